package v1alpha1_test

import (
	"bufio"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// TestExplainDescribesEveryField runs the built kubectl against the API server:
// `kubectl explain accessentries.spec --recursive` lists the fields, and
// `kubectl explain` of each one must show a description, since that is the
// documentation users read.
func TestExplainDescribesEveryField(t *testing.T) {
	testenv.RequireControlPlane(t)
	kubectl := env.ControlPlane.KubeCtl()
	kubectl.Path = filepath.Join(testenv.AssetsDir(), "kubectl")
	explain := func(args ...string) string {
		t.Helper()
		stdout, stderr, err := kubectl.Run(append([]string{"explain"}, args...)...)
		if err != nil {
			errText, _ := io.ReadAll(stderr)
			t.Fatalf("kubectl explain %v: %v: %s", args, err, errText)
		}
		out, _ := io.ReadAll(stdout)
		return string(out)
	}

	// The API server publishes a new CRD's OpenAPI schema a moment after the CRD
	// is established; wait for it.
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, _, err := kubectl.Run("explain", "accessentries.spec")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the AccessEntry schema was not published within 60s: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}

	for _, top := range []string{"accessentries.spec", "accessentries.status"} {
		fields := recursiveFields(explain(top, "--recursive"))
		if len(fields) < 5 {
			t.Fatalf("kubectl explain %s --recursive listed only %v", top, fields)
		}
		t.Logf("kubectl explain %s: checking the descriptions of %d fields", top, len(fields))
		for _, f := range append([]string{""}, fields...) {
			path := top
			if f != "" {
				path += "." + f
			}
			if desc := description(explain(path)); desc == "" || desc == "<empty>" {
				t.Errorf("kubectl explain %s shows no description", path)
			}
		}
	}
}

// recursiveFields turns the indented FIELDS tree of `kubectl explain --recursive`
// into dotted paths.
func recursiveFields(out string) []string {
	var (
		paths []string
		stack []string
		in    bool
	)
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "FIELDS:") {
			in = true
			continue
		}
		if !in || strings.TrimSpace(line) == "" {
			continue
		}
		// A field line is "NAME <TYPE>"; enum lines and the like are not fields.
		words := strings.Fields(line)
		depth := (len(line) - len(strings.TrimLeft(line, " "))) / 2
		if depth < 1 || len(words) < 2 || !strings.HasPrefix(words[1], "<") {
			continue
		}
		name := words[0]
		stack = append(stack[:depth-1], name)
		paths = append(paths, strings.Join(stack, "."))
	}
	return paths
}

// description is the DESCRIPTION section of `kubectl explain`.
func description(out string) string {
	_, after, ok := strings.Cut(out, "DESCRIPTION:")
	if !ok {
		return ""
	}
	if before, _, ok := strings.Cut(after, "FIELDS:"); ok {
		after = before
	}
	return strings.TrimSpace(after)
}
