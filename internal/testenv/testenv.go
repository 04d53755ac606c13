// Package testenv starts the control plane the tests run against: a real etcd and
// kube-apiserver (controller-runtime's envtest) on loopback, built from Go modules
// by `make envtest-assets`, with the project's CRDs installed.
package testenv

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RepoRoot is the top folder of the repository, found from this file's location so
// that tests work from any package directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// AssetsDir is where kube-apiserver, etcd and kubectl are: KUBEBUILDER_ASSETS when
// set, bin/k8s otherwise.
func AssetsDir() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	return filepath.Join(RepoRoot(), "bin", "k8s")
}

// Start starts etcd and kube-apiserver with the project's CRDs installed. The caller
// stops the environment.
func Start() (*envtest.Environment, *rest.Config, error) {
	assets := AssetsDir()
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, name)); err != nil {
			return nil, nil, fmt.Errorf("%s not found in %s: run 'make envtest-assets' (or 'make test', which builds it)", name, assets)
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		// Start leaves etcd and kube-apiserver running when a later step (such as
		// installing the CRDs) fails.
		_ = env.Stop()
		return nil, nil, fmt.Errorf("starting envtest: %w", err)
	}
	return env, cfg, nil
}

// Eventually polls cond every 100ms until it holds, and fails the test when the
// timeout passes first, with what it waited for and cond's last detail.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s; last: %s", timeout, what, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Fuzzing reports whether the test binary runs a fuzz target (-test.fuzz). Its
// TestMain then starts no control plane: fuzz targets test pure functions, in
// worker processes the fuzzer kills at will, which would leave it running.
func Fuzzing() bool {
	if !flag.Parsed() {
		flag.Parse()
	}
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// UnitOnly reports whether the tests run with -short (`make test-unit`): then a
// TestMain starts no control plane, and the tests that need one skip themselves
// with RequireControlPlane, so that the pure tests run on a fresh clone before
// any envtest binary is built.
func UnitOnly() bool {
	if !flag.Parsed() {
		flag.Parse()
	}
	return testing.Short()
}

// RequireControlPlane skips a test that needs kube-apiserver and etcd when the
// tests run with -short.
func RequireControlPlane(t testing.TB) {
	t.Helper()
	if UnitOnly() {
		t.Skip("needs kube-apiserver and etcd: runs in 'make test', not in 'make test-unit' (-short)")
	}
}
