package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

func TestImageOverride(t *testing.T) {
	for _, tc := range []struct{ image, name, tag, digest string }{
		{"eks-access-operator:dev", "eks-access-operator", "dev", ""},
		{"registry.example.com:5000/team/op:v1.2.3", "registry.example.com:5000/team/op", "v1.2.3", ""},
		{"registry.example.com:5000/team/op", "registry.example.com:5000/team/op", "", ""},
		{"ghcr.io/o/op@sha256:abc", "ghcr.io/o/op", "", "sha256:abc"},
	} {
		got := ImageOverride(tc.image)
		if got.Name != "controller" || got.NewName != tc.name || got.NewTag != tc.tag || got.Digest != tc.digest {
			t.Errorf("%s: got %+v, want name %q tag %q digest %q", tc.image, got, tc.name, tc.tag, tc.digest)
		}
	}
}

// TestBuildSetsTheImage builds config/default as `make deploy` does and checks
// that the image is the one asked for and that namespaces come first.
func TestBuildSetsTheImage(t *testing.T) {
	out, err := Build(filepath.Join(testenv.RepoRoot(), "config", "default"), "registry.example.com:5000/op:v9")
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	if !strings.Contains(text, "image: registry.example.com:5000/op:v9\n") || strings.Contains(text, "controller:latest") {
		t.Errorf("the image was not set:\n%s", text)
	}
	if !strings.HasPrefix(text, "apiVersion: v1\nkind: Namespace\n") {
		t.Errorf("the Namespace is not first: %.200s", text)
	}
}
