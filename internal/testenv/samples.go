package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// Samples reads every AccessEntry in config/samples, failing the test on an error.
func Samples(t testing.TB) []*v1.AccessEntry {
	t.Helper()
	out, err := ReadSamples()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ReadSamples reads every AccessEntry in config/samples (one or more YAML documents a file).
func ReadSamples() ([]*v1.AccessEntry, error) {
	files, err := filepath.Glob(filepath.Join(RepoRoot(), "config", "samples", "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []*v1.AccessEntry
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, doc := range strings.Split(string(data), "\n---") {
			var ae v1.AccessEntry
			if err := yaml.UnmarshalStrict([]byte(doc), &ae); err != nil {
				// kustomization.yaml and other kinds are not AccessEntries.
				continue
			}
			if ae.Kind == "AccessEntry" {
				out = append(out, &ae)
			}
		}
	}
	return out, nil
}
