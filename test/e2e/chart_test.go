package e2e

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

const (
	chartDir = "charts/eks-access-operator"
	// kubeVersion is that of the API server the tests run (hack/envtest-assets.sh).
	kubeVersion = "v1.37.2"
)

// rendered is a chart rendered as `helm template` renders it.
type rendered struct {
	Objects []*unstructured.Unstructured
	CRDs    []*unstructured.Unstructured
	Notes   string
}

// renderChart renders the chart with Helm's own library (install in client-only
// dry-run mode, which is `helm template`), values checked against
// values.schema.json on the way.
func renderChart(t *testing.T, release, namespace string, values map[string]any) (*rendered, error) {
	t.Helper()
	chrt, err := loader.Load(filepath.Join(testenv.RepoRoot(), chartDir))
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	install := action.NewInstall(action.NewConfiguration())
	install.DryRunStrategy = action.DryRunClient
	install.ReleaseName, install.Namespace = release, namespace
	install.Replace = true
	// The version of the envtest binaries (a test binary's client-go says v1.20).
	if install.KubeVersion, err = common.ParseKubeVersion(kubeVersion); err != nil {
		t.Fatal(err)
	}
	rel, err := install.Run(chrt, values)
	if err != nil {
		return nil, err
	}
	r, ok := rel.(*releasev1.Release)
	if !ok {
		t.Fatalf("Helm returned a %T", rel)
	}
	out := &rendered{Notes: r.Info.Notes}
	if out.Objects, err = decodeAll([]byte(r.Manifest)); err != nil {
		t.Fatalf("the rendered manifest: %v", err)
	}
	for _, crd := range chrt.CRDObjects() {
		objs, err := decodeAll(crd.File.Data)
		if err != nil {
			t.Fatalf("%s: %v", crd.Filename, err)
		}
		out.CRDs = append(out.CRDs, objs...)
	}
	return out, nil
}

func mustRender(t *testing.T, release, namespace string, values map[string]any) *rendered {
	t.Helper()
	r, err := renderChart(t, release, namespace, values)
	if err != nil {
		t.Fatalf("rendering the chart with %v: %v", values, err)
	}
	return r
}

// decodeAll splits a multi-document YAML stream into objects, skipping empty ones.
func decodeAll(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

func (r *rendered) find(kind, name string) *unstructured.Unstructured {
	for _, o := range r.Objects {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func (r *rendered) kinds() []string {
	var out []string
	for _, o := range r.Objects {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	return out
}

// typed converts a rendered object to its Go type, failing the test when it lacks.
func typed[T any](t *testing.T, r *rendered, kind, name string) *T {
	t.Helper()
	u := r.find(kind, name)
	if u == nil {
		t.Fatalf("no %s %s among %v", kind, name, r.kinds())
	}
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, out, true); err != nil {
		t.Fatalf("%s %s: %v", kind, name, err)
	}
	return out
}

// readConfigObject reads one object of config/rbac.
func readConfigObject(t *testing.T, file string, obj any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", file))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		t.Fatalf("config/rbac/%s: %v", file, err)
	}
}

// TestChartRBACEqualsConfig holds the chart's RBAC to config/rbac, whose manager
// role controller-gen generates from the code: the same rules for each role, each
// bound to the chart's ServiceAccount. And the chart's CRDs are the generated ones.
func TestChartRBACEqualsConfig(t *testing.T) {
	r := mustRender(t, "eks-access-operator", namespace, nil)
	const prefix = "eks-access-operator-"
	sa := prefix + "controller-manager"

	for file, name := range map[string]string{
		"role.yaml": "manager-role", "metrics_auth_role.yaml": "metrics-auth-role", "metrics_reader_role.yaml": "metrics-reader",
	} {
		want := &rbacv1.ClusterRole{}
		readConfigObject(t, file, want)
		if want.Name != name {
			t.Fatalf("config/rbac/%s names %q, want %q", file, want.Name, name)
		}
		got := typed[rbacv1.ClusterRole](t, r, "ClusterRole", prefix+name)
		if !reflect.DeepEqual(got.Rules, want.Rules) {
			t.Errorf("ClusterRole %s: the chart's rules\n%v\nconfig/rbac/%s's\n%v", name, got.Rules, file, want.Rules)
		}
	}
	wantLease := &rbacv1.Role{}
	readConfigObject(t, "leader_election_role.yaml", wantLease)
	gotLease := typed[rbacv1.Role](t, r, "Role", prefix+wantLease.Name)
	if !reflect.DeepEqual(gotLease.Rules, wantLease.Rules) || gotLease.Namespace != namespace {
		t.Errorf("the leader-election Role: the chart's %s/%v, config's %v", gotLease.Namespace, gotLease.Rules, wantLease.Rules)
	}

	for file, kind := range map[string]string{
		"role_binding.yaml": "ClusterRoleBinding", "metrics_auth_role_binding.yaml": "ClusterRoleBinding",
		"leader_election_role_binding.yaml": "RoleBinding",
	} {
		want := &rbacv1.ClusterRoleBinding{}
		readConfigObject(t, file, want)
		var ref rbacv1.RoleRef
		var subjects []rbacv1.Subject
		if kind == "RoleBinding" {
			b := typed[rbacv1.RoleBinding](t, r, kind, prefix+want.Name)
			ref, subjects = b.RoleRef, b.Subjects
		} else {
			b := typed[rbacv1.ClusterRoleBinding](t, r, kind, prefix+want.Name)
			ref, subjects = b.RoleRef, b.Subjects
		}
		if ref.Kind != want.RoleRef.Kind || ref.Name != prefix+want.RoleRef.Name {
			t.Errorf("%s %s binds %s %s, config/rbac/%s %s %s", kind, want.Name, ref.Kind, ref.Name, file, want.RoleRef.Kind, want.RoleRef.Name)
		}
		wantSubject := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: namespace}}
		if !reflect.DeepEqual(subjects, wantSubject) {
			t.Errorf("%s %s binds %v, want %v", kind, want.Name, subjects, wantSubject)
		}
	}
	// Nothing grants more than config/rbac: no role or binding the comparison missed.
	for _, o := range r.Objects {
		if strings.HasPrefix(o.GetAPIVersion(), "rbac.") && !slices.Contains([]string{
			prefix + "manager-role", prefix + "metrics-auth-role", prefix + "metrics-reader", prefix + "leader-election-role",
			prefix + "manager-rolebinding", prefix + "metrics-auth-rolebinding", prefix + "leader-election-rolebinding",
		}, o.GetName()) {
			t.Errorf("the chart has %s %s, which config/rbac does not", o.GetKind(), o.GetName())
		}
	}

	bases, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "crd", "bases", "*.yaml"))
	if err != nil || len(bases) < 4 {
		t.Fatalf("config/crd/bases holds %v (%v), want the CRDs of the 4 kinds", bases, err)
	}
	for _, path := range bases {
		name := filepath.Base(path)
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), chartDir, "crds", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s/crds/%s differs from config/crd/bases: run 'make manifests'", chartDir, name)
		}
	}
	if len(r.CRDs) != len(bases) {
		t.Errorf("the chart installs %d CRDs, config/crd/bases holds %d", len(r.CRDs), len(bases))
	}
}

// TestChartRefusesBadValues: values.schema.json refuses, at install, values that
// would make a broken Deployment.
func TestChartRefusesBadValues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]any
		want   string // in Helm's error
	}{
		{"a misspelt key", map[string]any{"replicas": 3}, "replicas"},
		{"replicas as text", map[string]any{"replicaCount": "two"}, "replicaCount"},
		{"a duration in words", map[string]any{"config": map[string]any{"resyncPeriod": "10 minutes"}}, "resyncPeriod"},
		{"a negative rate", map[string]any{"config": map[string]any{"eksQPS": -1}}, "eksQPS"},
		{"a burst of zero", map[string]any{"config": map[string]any{"eksBurst": 0}}, "eksBurst"},
		{"a misspelt flag value", map[string]any{"config": map[string]any{"resyncPeriodd": "5m"}}, "resyncPeriodd"},
		{"a role name instead of its ARN", map[string]any{"aws": map[string]any{"roleArn": "eks-access-operator"}}, "roleArn"},
		{"IRSA and Pod Identity at once", map[string]any{"aws": map[string]any{"podIdentity": true, "roleArn": "arn:aws:iam::111122223333:role/op"}}, "roleArn"},
		{"a region with a typo", map[string]any{"aws": map[string]any{"region": "us-west2"}}, "region"},
		{"a privileged metrics port", map[string]any{"metrics": map[string]any{"port": 443}}, "port"},
		{"an unknown log encoder", map[string]any{"logging": map[string]any{"encoder": "xml"}}, "encoder"},
		{"a trusted namespace that cannot exist", map[string]any{"config": map[string]any{"trustedNamespaces": []any{"Team_A"}}}, "trustedNamespaces"},
		{"a bad memory limit", map[string]any{"config": map[string]any{"memoryLimit": "lots"}}, "memoryLimit"},
		{"an error ratio above one", map[string]any{"prometheusRule": map[string]any{"errorRatio": 5}}, "errorRatio"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderChart(t, "eks-access-operator", namespace, tc.values)
			if err == nil {
				t.Fatalf("values %v were accepted", tc.values)
			}
			if !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q: want a schema error naming %q", err, tc.want)
			}
		})
	}
}

// operatorFlags are the flags main.go defines, and the logging flags zap binds.
func operatorFlags(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	flags := []string{"zap-log-level", "zap-encoder", "zap-devel", "zap-stacktrace-level", "zap-time-encoding", "kubeconfig"}
	for _, m := range regexp.MustCompile(`flag\.\w+Var\([^,]+, "([a-z0-9-]+)"`).FindAllSubmatch(src, -1) {
		flags = append(flags, string(m[1]))
	}
	if len(flags) < 20 {
		t.Fatalf("found only %v in main.go", flags)
	}
	return flags
}

func containerArgs(t *testing.T, r *rendered) []string {
	t.Helper()
	dep := typed[appsv1.Deployment](t, r, "Deployment", "eks-access-operator-controller-manager")
	return dep.Spec.Template.Spec.Containers[0].Args
}

// TestChartFlags: the default values pass only flags the operator has, so the
// chart starts the binary it ships with; each value reaches its flag.
func TestChartFlags(t *testing.T) {
	known := operatorFlags(t)
	defaults := containerArgs(t, mustRender(t, "eks-access-operator", namespace, nil))
	for _, a := range defaults {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !slices.Contains(known, name) {
			t.Errorf("the default values pass %s, which main.go does not define", a)
		}
	}
	for _, want := range []string{"--leader-elect", "--metrics-bind-address=:8443", "--metrics-secure=true", "--health-probe-bind-address=:8081"} {
		if !slices.Contains(defaults, want) {
			t.Errorf("default args %q lack %s", defaults, want)
		}
	}

	values := map[string]any{
		"aws": map[string]any{"region": "eu-west-1"},
		"config": map[string]any{
			"resyncPeriod": "20m", "verificationPeriod": "2h", "sweepPeriod": "30s", "watchedSweepPeriod": "20s",
			"eksQPS": 5, "eksBurst": 5, "backgroundQPS": 0.5, "iamQPS": 2, "maxConcurrentReconciles": 8,
			"watchNamespace": "platform", "selector": "shard=a", "requireClusterConfig": true,
			"trustedNamespaces": []any{"platform", "security"},
			"watchedPolicies":   []any{"AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy"},
			"memoryLimit":       "200Mi",
		},
		"events": map[string]any{
			"queueURL": "https://sqs.eu-west-1.amazonaws.com/111122223333/eks-access-events", "queueRegion": "eu-west-1",
			"maxDelay": "3m", "probeInterval": "5m", "sweepPeriod": "30m", "watchedSweepPeriod": "20m", "verificationPeriod": "48h",
		},
		"logging":   map[string]any{"level": "debug"},
		"extraArgs": []any{"--zap-stacktrace-level=panic"},
	}
	args := containerArgs(t, mustRender(t, "eks-access-operator", namespace, values))
	for _, want := range []string{
		"--region=eu-west-1", "--resync-period=20m", "--verification-period=2h", "--sweep-period=30s", "--watched-sweep-period=20s",
		"--eks-qps=5", "--eks-burst=5", "--background-qps=0.5", "--iam-qps=2", "--max-concurrent-reconciles=8",
		"--watch-namespace=platform", "--selector=shard=a", "--require-cluster-config",
		"--trusted-namespaces=platform,security",
		"--watched-policies=AmazonEKSClusterAdminPolicy,AmazonEKSAdminPolicy,AmazonEKSEditPolicy",
		"--memory-limit=200Mi", "--zap-log-level=debug", "--zap-stacktrace-level=panic",
		"--events-queue-url=https://sqs.eu-west-1.amazonaws.com/111122223333/eks-access-events", "--events-queue-region=eu-west-1",
		"--events-max-delay=3m", "--events-probe-interval=5m", "--events-sweep-period=30m", "--events-watched-sweep-period=20m",
		"--events-verification-period=48h",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("args %q lack %s", args, want)
		}
	}
	// A rate of zero is a value (the other engineer's --background-qps means 10% by it).
	zero := containerArgs(t, mustRender(t, "eks-access-operator", namespace, map[string]any{"config": map[string]any{"backgroundQPS": 0}}))
	if !slices.Contains(zero, "--background-qps=0") {
		t.Errorf("args %q lack --background-qps=0", zero)
	}
}

// TestChartImageMatchesInstaller: the chart and dist/install.yaml name one release.
func TestChartImageMatchesInstaller(t *testing.T) {
	r := mustRender(t, "eks-access-operator", namespace, nil)
	dep := typed[appsv1.Deployment](t, r, "Deployment", "eks-access-operator-controller-manager")
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "dist", "install.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	installer, err := decodeAll(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range installer {
		if o.GetKind() != "Deployment" {
			continue
		}
		d := &appsv1.Deployment{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, d); err != nil {
			t.Fatal(err)
		}
		if got, want := d.Spec.Template.Spec.Containers[0].Image, dep.Spec.Template.Spec.Containers[0].Image; got != want {
			t.Errorf("dist/install.yaml runs %s, the chart %s: 'make build-installer' after changing VERSION or appVersion", got, want)
		}
		return
	}
	t.Fatal("no Deployment in dist/install.yaml")
}

// chartMeta reads Chart.yaml, for the version checks.
func chartMeta(t *testing.T) *chartv2.Metadata {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := &chartv2.Metadata{}
	if err := yaml.Unmarshal(data, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestChartVersionFollowsMakefile: the Makefile's VERSION is the chart's.
func TestChartVersionFollowsMakefile(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^VERSION \?= (\S+)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("no 'VERSION ?=' in the Makefile")
	}
	meta := chartMeta(t)
	if meta.Version != string(m[1]) || meta.AppVersion != string(m[1]) {
		t.Errorf("Chart.yaml version %s, appVersion %s; the Makefile's VERSION %s", meta.Version, meta.AppVersion, m[1])
	}
}
