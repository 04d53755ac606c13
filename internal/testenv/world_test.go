package testenv

import (
	"slices"
	"testing"
)

func TestOperatorArgs(t *testing.T) {
	const (
		kubeconfig = "/tmp/world/kubeconfig"
		url        = "http://127.0.0.1:4567"
	)
	// The soak's own flags, which once swallowed the listen addresses in a comment.
	soak := []string{"--principal-check-interval=5s", "--iam-qps=50", "--verification-period=20s", "--sweep-period=5s", "--eks-qps=50", "--eks-burst=50", "--instance-id=soak"}
	for _, tc := range []struct {
		name        string
		opts        WorldOptions
		wantMetrics string
	}{
		{"default", WorldOptions{Region: "us-west-2"}, "0"},
		{"soak", WorldOptions{Region: "us-west-2", OperatorArgs: soak}, "0"},
		{"metrics on", WorldOptions{Region: "us-west-2", MetricsAddr: "127.0.0.1:9999"}, "127.0.0.1:9999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := operatorArgs(kubeconfig, url, tc.opts)
			for _, want := range []string{
				"--kubeconfig=" + kubeconfig,
				"--eks-endpoint=" + url, "--sts-endpoint=" + url, "--iam-endpoint=" + url,
				"--region=us-west-2",
				"--metrics-bind-address=" + tc.wantMetrics,
				"--health-probe-bind-address=0",
			} {
				if n := count(args, want); n != 1 {
					t.Errorf("%s appears %d times in %q, want once", want, n, args)
				}
			}
			if tc.wantMetrics != "0" && slices.Contains(args, "--metrics-bind-address=0") {
				t.Errorf("the caller's metrics address did not replace the default: %q", args)
			}
			for _, extra := range tc.opts.OperatorArgs {
				if !slices.Contains(args, extra) {
					t.Errorf("%s missing from %q", extra, args)
				}
			}
		})
	}
}

func count(args []string, want string) int {
	n := 0
	for _, a := range args {
		if a == want {
			n++
		}
	}
	return n
}
