package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// TestRequestApproveDenyList: each person runs the plugin with a kubeconfig of
// their own, against a real API server with the operator's CRDs and admission
// policies: what they ask and decide is recorded as them, by the API server's
// say, and listed.
func TestRequestApproveDenyList(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1.AddToScheme(scheme)
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := testenv.InstallAdmission(ctx, admin, "system:serviceaccount:test:operator"); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kubeconfig := func(user string, groups ...string) string {
		authn, err := testenv.Person{Name: user, Groups: groups, Rules: testenv.RequesterRules, Namespaces: []string{"team"}}.Add(ctx, env, cfg)
		if err != nil {
			t.Fatal(err)
		}
		data, err := authn.KubeConfig()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, user)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	alice, bob := kubeconfig("alice", "developers"), kubeconfig("bob", "platform-oncall")

	code, out, stderr := runCLI(t, "request", "--kubeconfig", alice, "-n", "team", "--name", "fix", "--cluster", "prod",
		"--principal", "arn:aws:iam::111122223333:role/alice", "--policy", "AmazonEKSClusterAdminPolicy", "--duration", "2h", "--reason", "INC-9")
	if code != exitOK || !strings.Contains(out, "team/fix: alice asks for AmazonEKSClusterAdminPolicy on cluster prod") {
		t.Fatalf("request: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	ar := &v1.AccessRequest{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: "team", Name: "fix"}, ar); err != nil {
		t.Fatal(err)
	}
	if ar.Spec.Requester != "alice" || !slices.Contains(ar.Spec.RequesterGroups, "developers") {
		t.Fatalf("requested as %q in %v", ar.Spec.Requester, ar.Spec.RequesterGroups)
	}

	for verb, says := range map[string]string{"approve": "approves", "deny": "denies"} {
		code, out, stderr = runCLI(t, verb, "fix", "--kubeconfig", bob, "-n", "team", "--reason", "on call")
		if code != exitOK || !strings.Contains(out, "bob "+says+" team/fix: alice asks") {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", verb, code, out, stderr)
		}
	}
	list := &v1.AccessApprovalList{}
	if err := admin.List(ctx, list, client.InNamespace("team")); err != nil {
		t.Fatal(err)
	}
	var decisions []string
	for _, a := range list.Items {
		if a.Spec.Approver != "bob" || a.Spec.RequestUID != string(ar.UID) || !slices.Contains(a.Spec.ApproverGroups, "platform-oncall") {
			t.Errorf("approval %s: %+v", a.Name, a.Spec)
		}
		decisions = append(decisions, string(a.Spec.Decision))
	}
	if slices.Sort(decisions); strings.Join(decisions, ",") != "Approve,Deny" {
		t.Errorf("decisions %v, want Approve and Deny", decisions)
	}

	code, out, _ = runCLI(t, "requests", "--kubeconfig", alice, "-n", "team")
	if code != exitOK || !strings.Contains(out, "REQUESTER") || !strings.Contains(out, "fix") || !strings.Contains(out, "AmazonEKSClusterAdminPolicy") {
		t.Fatalf("requests: exit %d, %q", code, out)
	}
	if code, _, _ := runCLI(t, "approve", "--kubeconfig", bob, "-n", "team"); code != exitUsage {
		t.Errorf("approve with no request exits %d, want %d", code, exitUsage)
	}
}
