// Command crdschemas writes a JSON Schema for each served version of each CRD in
// config/crd/bases, laid out as the community CRDs catalogue and kubeconform expect:
// GROUP/KIND_VERSION.json, the kind in lower case. Editors (yaml-language-server) and
// kubeconform then check AccessEntry manifests without a cluster:
//
//	kubeconform -strict -schema-location default \
//	  -schema-location 'schemas/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json' manifests/
//
// The schema is the CRD's openAPIV3Schema with the OpenAPI extensions a JSON Schema
// validator does not know turned into JSON Schema: objects with declared properties
// refuse others (the API server refuses unknown fields too), nullable admits null,
// and int-or-string admits both. CEL rules (x-kubernetes-validations) stay for
// reading; only the API server runs them.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

func main() {
	crdDir := flag.String("crds", "config/crd/bases", "Directory of the generated CRD YAML files.")
	out := flag.String("out", "schemas", "Directory to write GROUP/KIND_VERSION.json into.")
	flag.Parse()
	if err := run(*crdDir, *out); err != nil {
		fmt.Fprintln(os.Stderr, "crdschemas:", err)
		os.Exit(1)
	}
}

func run(crdDir, outDir string) error {
	files, err := filepath.Glob(filepath.Join(crdDir, "*.yaml"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no CRD in %s", crdDir)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		schemas, err := Schemas(data)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for path, schema := range schemas {
			dst := filepath.Join(outDir, path)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(dst, schema, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// Schemas converts one CRD into its JSON Schemas, keyed by GROUP/KIND_VERSION.json.
func Schemas(crdYAML []byte) (map[string][]byte, error) {
	crd := &apiextv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(crdYAML, crd); err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, v := range crd.Spec.Versions {
		if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		raw, err := json.Marshal(v.Schema.OpenAPIV3Schema)
		if err != nil {
			return nil, err
		}
		var schema map[string]any
		if err := json.Unmarshal(raw, &schema); err != nil {
			return nil, err
		}
		toJSONSchema(schema)
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(schema); err != nil {
			return nil, err
		}
		name := fmt.Sprintf("%s/%s_%s.json", crd.Spec.Group, strings.ToLower(crd.Spec.Names.Kind), v.Name)
		out[name] = buf.Bytes()
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("CRD %s serves no version with a schema", crd.Name)
	}
	return out, nil
}

// toJSONSchema rewrites an OpenAPI v3 schema of a CRD, in place, into JSON Schema.
func toJSONSchema(s map[string]any) {
	if s["x-kubernetes-int-or-string"] == true {
		delete(s, "type")
		s["anyOf"] = []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}}
	}
	if s["nullable"] == true {
		if t, ok := s["type"].(string); ok {
			s["type"] = []any{t, "null"}
		}
		delete(s, "nullable")
	}
	if props, ok := s["properties"].(map[string]any); ok {
		if _, set := s["additionalProperties"]; !set && s["x-kubernetes-preserve-unknown-fields"] != true {
			s["additionalProperties"] = false
		}
		for _, p := range props {
			if m, ok := p.(map[string]any); ok {
				toJSONSchema(m)
			}
		}
	}
	for _, key := range []string{"items", "additionalProperties", "not"} {
		if m, ok := s[key].(map[string]any); ok {
			toJSONSchema(m)
		}
	}
	for _, key := range []string{"allOf", "anyOf", "oneOf"} {
		if list, ok := s[key].([]any); ok {
			for _, item := range list {
				if m, ok := item.(map[string]any); ok {
					toJSONSchema(m)
				}
			}
		}
	}
}
