package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

const (
	requestNS        = "team-a"
	requestName      = "fix-ingress"
	requestPrincipal = "arn:aws:iam::" + account + ":role/oncall-alice"
	// grantFor is how long the demo's grant lasts: the shortest a request may ask.
	grantFor = time.Minute
)

// showRequest shows time-bound access under the sample's team-a-oncall rule:
// alice of team-a asks for ClusterAdmin with the kubectl plugin, bob of
// platform-oncall approves, EKS holds the grant, and the operator revokes it at
// its expiry. Each person is a user of the API server with their own
// kubeconfig, so admission checks who asks and who approves.
func showRequest(ctx context.Context, w *testenv.World, plugin, work string) error {
	step("time-bound access: alice (group developers) and bob (group platform-oncall) may make requests and approvals in %s", requestNS)
	kubeconfigs := map[string]string{}
	for _, p := range []testenv.Person{
		{Name: "alice", Groups: []string{"developers"}, Rules: testenv.RequesterRules, Namespaces: []string{requestNS}},
		{Name: "bob", Groups: []string{"platform-oncall"}, Rules: testenv.RequesterRules, Namespaces: []string{requestNS}},
	} {
		u, err := p.Add(ctx, w.Env, w.Config)
		if err != nil {
			return err
		}
		data, err := u.KubeConfig()
		if err != nil {
			return err
		}
		kubeconfigs[p.Name] = filepath.Join(work, "kubeconfig-"+p.Name)
		if err := os.WriteFile(kubeconfigs[p.Name], data, 0o600); err != nil {
			return err
		}
	}
	eksaccess := func(who string, args ...string) error {
		shown := make([]string, len(args))
		for i, a := range args {
			shown[i] = a
			if strings.ContainsAny(a, " ,") {
				shown[i] = "'" + a + "'"
			}
		}
		fmt.Printf("    %s$ kubectl eksaccess %s\n", who, strings.Join(shown, " "))
		cmd := exec.CommandContext(ctx, plugin, append(args, "--kubeconfig", kubeconfigs[who])...)
		out, err := cmd.CombinedOutput()
		fmt.Print(indent(indent(string(out))))
		if err != nil {
			return fmt.Errorf("kubectl eksaccess %s as %s: %w", args[0], who, err)
		}
		return nil
	}
	step("alice asks for ClusterAdmin for %s; bob approves", grantFor)
	if err := eksaccess("alice", "request", "-n", requestNS, "--name", requestName, "--cluster", cluster, "--principal", requestPrincipal,
		"--policy", "AmazonEKSClusterAdminPolicy", "--duration", grantFor.String(), "--reason", "INC-1234: ingress down"); err != nil {
		return err
	}
	if err := eksaccess("bob", "approve", requestName, "-n", requestNS, "--reason", "on call, confirmed"); err != nil {
		return err
	}
	ar, err := waitGranted(ctx, w.Client, 60*time.Second)
	if err != nil {
		return err
	}
	if err := eksaccess("alice", "requests", "-n", requestNS); err != nil {
		return err
	}
	step("EKS holds the grant until %s", ar.Status.ExpiresAt.Format(time.TimeOnly))
	printEntries(matching(w, requestPrincipal))
	step("waiting for the expiry: the operator revokes the grant")
	expiry := ar.Status.ExpiresAt.Time
	for deadline := expiry.Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		if len(matching(w, requestPrincipal)) == 0 {
			step("revoked %s after its expiry: EKS no longer holds %s", time.Since(expiry).Round(100*time.Millisecond), requestPrincipal)
			return eksaccess("alice", "requests", "-n", requestNS)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("EKS still holds the grant of %s 60s after its expiry", requestPrincipal)
		}
	}
}

// waitGranted waits until the demo's request is Granted and its AccessEntry Ready.
func waitGranted(ctx context.Context, k8s client.Client, timeout time.Duration) (*v1.AccessRequest, error) {
	ar, ae := &v1.AccessRequest{}, &v1.AccessEntry{}
	key := client.ObjectKey{Namespace: requestNS, Name: requestName}
	for deadline := time.Now().Add(timeout); ; time.Sleep(500 * time.Millisecond) {
		if k8s.Get(ctx, key, ar) == nil && ar.Status.Phase == v1.RequestGranted && k8s.Get(ctx, key, ae) == nil && readyReason(ae) == v1.ReasonSynced {
			return ar, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("request %s is %q (its AccessEntry %q) after %s, want Granted and Synced", key, ar.Status.Phase, readyReason(ae), timeout)
		}
	}
}

func readyReason(ae *v1.AccessEntry) string {
	for _, c := range ae.Status.Conditions {
		if c.Type == v1.ConditionReady {
			return c.Reason
		}
	}
	return ""
}

// matching is what EKS holds for the demo cluster's principal.
func matching(w *testenv.World, principal string) []eksemulator.Entry {
	var out []eksemulator.Entry
	for _, e := range w.Emulator.Entries(account, region, cluster) {
		if e.PrincipalARN == principal {
			out = append(out, e)
		}
	}
	return out
}
