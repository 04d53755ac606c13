package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

func TestToJSONSchema(t *testing.T) {
	var s map[string]any
	in := `{"type":"object","properties":{
		"port":{"x-kubernetes-int-or-string":true},
		"note":{"type":"string","nullable":true},
		"free":{"type":"object","x-kubernetes-preserve-unknown-fields":true,"properties":{"a":{"type":"string"}}},
		"tags":{"type":"object","additionalProperties":{"type":"string"}},
		"list":{"type":"array","items":{"type":"object","properties":{"b":{"type":"string"}}}}}}`
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	toJSONSchema(s)
	props := s["properties"].(map[string]any)
	for _, tc := range []struct {
		what string
		got  any
		want any
	}{
		{"a closed object", s["additionalProperties"], false},
		{"int-or-string", props["port"], map[string]any{"x-kubernetes-int-or-string": true, "anyOf": []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}}}},
		{"nullable", props["note"], map[string]any{"type": []any{"string", "null"}}},
		{"an object that keeps unknown fields", props["free"].(map[string]any)["additionalProperties"], nil},
		{"a map", props["tags"].(map[string]any)["additionalProperties"], map[string]any{"type": "string"}},
		{"an object in a list", props["list"].(map[string]any)["items"].(map[string]any)["additionalProperties"], false},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.what, tc.got, tc.want)
		}
	}
}

// TestSchemasAreCurrent: schemas/ is what the CRDs give now ('make schemas').
func TestSchemasAreCurrent(t *testing.T) {
	root := testenv.RepoRoot()
	out := t.TempDir()
	if err := run(filepath.Join(root, "config", "crd", "bases"), out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"eksaccess.io/accessentry_v1alpha1.json", "eksaccess.io/clusteraccessconfig_v1alpha1.json"} {
		want, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(root, "schemas", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("schemas/%s is out of date: run 'make schemas'", name)
		}
	}
}
