// Package e2e checks the artifacts users install: dist/install.yaml (config/default)
// applied with kubectl to a real kube-apiserver, the Helm chart, the metrics endpoint
// and leader fail-over of the operator binary, and the static build the Dockerfile makes.
package e2e

import (
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

const namespace = "eks-access-system"

// TestDefaultInstall applies dist/install.yaml (config/default, as `make
// build-installer` writes it) to envtest the way the README says, `kubectl apply -f`,
// and checks what a production install relies on.
func TestDefaultInstall(t *testing.T) {
	testenv.RequireControlPlane(t)
	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kubeconfig, err := testenv.WriteKubeconfig(env, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	kubectl := filepath.Join(testenv.AssetsDir(), "kubectl")

	// kubectl's own kustomize must read config/default as hack/kustomize does.
	if out, err := exec.Command(kubectl, "kustomize", filepath.Join(testenv.RepoRoot(), "config", "default")).CombinedOutput(); err != nil {
		t.Fatalf("kubectl kustomize config/default: %v\n%s", err, out)
	}
	apply := exec.Command(kubectl, "--kubeconfig", kubeconfig, "apply", "-f", filepath.Join(testenv.RepoRoot(), "dist", "install.yaml"))
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply -f dist/install.yaml: %v\n%s", err, out)
	}

	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	dep := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "eks-access-operator-controller-manager"}, dep); err != nil {
		t.Fatalf("the manager Deployment: %v", err)
	}
	pod := dep.Spec.Template.Spec
	if pod.ServiceAccountName != "eks-access-operator-controller-manager" {
		t.Errorf("service account %q", pod.ServiceAccountName)
	}
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v: want non-root and seccomp RuntimeDefault", psc)
	}
	manager := pod.Containers[0]
	if sc := manager.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
		!slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("container security context %+v: want a read-only root, no privilege escalation, all capabilities dropped", sc)
	}
	if manager.Resources.Requests.Memory().IsZero() || manager.Resources.Limits.Memory().IsZero() ||
		manager.Resources.Requests.Cpu().IsZero() || manager.Resources.Limits.Cpu().IsZero() {
		t.Errorf("resources %+v: want requests and limits", manager.Resources)
	}
	// The operator trusts its own namespace by default: the Deployment tells it which.
	if !slices.ContainsFunc(manager.Env, func(e corev1.EnvVar) bool {
		return e.Name == "POD_NAMESPACE" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace"
	}) || slices.ContainsFunc(manager.Args, func(a string) bool { return strings.HasPrefix(a, "--trusted-namespaces") }) {
		t.Errorf("env %+v, args %v: want POD_NAMESPACE from the pod's namespace and no --trusted-namespaces", manager.Env, manager.Args)
	}
	if !slices.Contains(manager.Args, "--leader-elect") || *dep.Spec.Replicas != 2 {
		t.Errorf("replicas %d, args %v: want two replicas with leader election", *dep.Spec.Replicas, manager.Args)
	}
	if !slices.Contains(manager.Args, "--metrics-bind-address=:8443") || slices.ContainsFunc(manager.Args, func(a string) bool { return strings.HasPrefix(a, "--metrics-secure") }) {
		t.Errorf("args %v: want metrics on :8443, secure (the default)", manager.Args)
	}
	pdb := &policyv1.PodDisruptionBudget{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "eks-access-operator-controller-manager"}, pdb); err != nil {
		t.Errorf("the PodDisruptionBudget: %v", err)
	}
	for _, name := range []string{"eks-access-operator-metrics-auth-role", "eks-access-operator-metrics-reader"} {
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &rbacv1.ClusterRole{}); err != nil {
			t.Errorf("the ClusterRole %s: %v", name, err)
		}
	}

	sa := &corev1.ServiceAccount{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: pod.ServiceAccountName}, sa); err != nil {
		t.Fatal(err)
	}
	if _, ok := sa.Annotations["eks.amazonaws.com/role-arn"]; !ok {
		t.Errorf("the ServiceAccount has no IRSA annotation: %v", sa.Annotations)
	}
	svc := &corev1.Service{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "eks-access-operator-controller-manager-metrics"}, svc); err != nil {
		t.Errorf("the metrics Service: %v", err)
	}

	role := &rbacv1.ClusterRole{}
	if err := c.Get(ctx, client.ObjectKey{Name: "eks-access-operator-manager-role"}, role); err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"accessentries": true, "accessentries/status": true, "accessentries/finalizers": true,
		"clusteraccessconfigs": true, "clusteraccessconfigs/status": true, "clusteraccessconfigs/finalizers": true, "events": true, "namespaces": true,
		"accessrequests": true, "accessrequests/status": true, "accessrequests/finalizers": true, "accessapprovals": true}
	for _, rule := range role.Rules {
		for _, r := range rule.Resources {
			if !allowed[r] {
				t.Errorf("the manager role grants %q, which the operator does not use", r)
			}
		}
		if slices.Contains(rule.Verbs, "*") || slices.Contains(rule.Resources, "*") || slices.Contains(rule.APIGroups, "*") {
			t.Errorf("the manager role has a wildcard: %+v", rule)
		}
		if slices.Contains(rule.Resources, "namespaces") && !slices.Equal(rule.Verbs, []string{"get", "list", "watch"}) {
			t.Errorf("namespaces: verbs %v, want only read access (the kube-system UID, guardrail namespace selectors)", rule.Verbs)
		}
	}
	lease := &rbacv1.Role{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "eks-access-operator-leader-election-role"}, lease); err != nil {
		t.Errorf("the leader-election Role: %v", err)
	}
	// The finalizer's guard (config/admission; TestAdmissionPolicyNamesTheOperator checks what it says).
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
	if err := c.Get(ctx, client.ObjectKey{Name: "eks-access-operator-finalizer-guard"}, binding); err != nil || binding.Spec.PolicyName != binding.Name {
		t.Errorf("the finalizer's ValidatingAdmissionPolicyBinding: %v, %+v", err, binding.Spec)
	}
}

// TestDockerfileBuildIsStatic runs the Dockerfile's own build command (there is no
// Docker engine here) and checks that the binary needs no C library, as the
// distroless static base requires, and that the image runs as non-root.
func TestDockerfileBuildIsStatic(t *testing.T) {
	root := testenv.RepoRoot()
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(dockerfile)
	build := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 .*go build .*)$`).FindStringSubmatch(text)
	if build == nil {
		t.Fatal("no 'RUN CGO_ENABLED=0 ... go build' line in the Dockerfile")
	}
	for _, want := range []string{"FROM gcr.io/distroless/static:nonroot", "USER 65532:65532"} {
		if !strings.Contains(text, want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}

	out := filepath.Join(t.TempDir(), "eks-access-operator")
	cmd := strings.Replace(build[1], "-o eks-access-operator", "-o "+out, 1)
	sh := exec.Command("sh", "-c", cmd)
	sh.Dir = root
	sh.Env = append(os.Environ(), "TARGETOS=linux", "TARGETARCH="+goarch())
	if b, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary asks for a dynamic loader: it would not start on distroless/static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("the binary links %v dynamically", libs)
	}
}

func goarch() string {
	out, err := exec.Command("go", "env", "GOARCH").Output()
	if err != nil {
		return "amd64"
	}
	return strings.TrimSpace(string(out))
}
