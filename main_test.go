package main

import (
	"os"
	"slices"
	"testing"
)

// TestTrustedNamespaces: the flag wins; without it, the operator trusts its own
// namespace, from the Deployment's POD_NAMESPACE or else the install's default.
func TestTrustedNamespaces(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "")
	if got := trustedNamespaces(" platform, ops ,"); !slices.Equal(got, []string{"platform", "ops"}) {
		t.Errorf("from the flag: %q", got)
	}
	t.Setenv("POD_NAMESPACE", "access-system")
	if got := trustedNamespaces(""); !slices.Equal(got, []string{"access-system"}) {
		t.Errorf("from POD_NAMESPACE: %q", got)
	}
	t.Setenv("POD_NAMESPACE", "")
	if _, err := os.Stat(serviceAccountNamespace); err == nil {
		t.Skip("running in a pod: the service account's namespace is the default")
	}
	if got := trustedNamespaces(""); !slices.Equal(got, []string{defaultNamespace}) {
		t.Errorf("default: %q, want %s", got, defaultNamespace)
	}
}
