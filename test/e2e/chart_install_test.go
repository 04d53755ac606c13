package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// TestChartInstall renders the chart with Helm's library for the default values and
// two realistic overrides, applies each release server-side to a real API server
// (CRDs first, as Helm does), and checks what the objects grant and run.
func TestChartInstall(t *testing.T) {
	testenv.RequireControlPlane(t)
	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = apiextv1.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	installMonitoringCRDs(t, ctx, c)

	t.Run("defaults", func(t *testing.T) {
		const ns, fullname = "eks-access-system", "eks-access-operator"
		r := mustRender(t, fullname, ns, nil)
		apply(t, ctx, c, ns, r)
		dep := getDeployment(t, ctx, c, ns, fullname+"-controller-manager")
		pod := dep.Spec.Template.Spec
		manager := pod.Containers[0]
		if *dep.Spec.Replicas != 2 || !slices.Contains(manager.Args, "--leader-elect") {
			t.Errorf("replicas %d, args %q: want 2 replicas with leader election", *dep.Spec.Replicas, manager.Args)
		}
		if manager.Image != "ghcr.io/eksaccess/eks-access-operator:v0.1.0" {
			t.Errorf("image %s", manager.Image)
		}
		if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
			t.Errorf("pod security context %+v: want non-root", psc)
		}
		if sc := manager.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container security context %+v: want a read-only root", sc)
		}
		if !slices.ContainsFunc(manager.Env, func(e corev1.EnvVar) bool {
			return e.Name == "POD_NAMESPACE" && e.ValueFrom != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace"
		}) {
			t.Errorf("env %+v: want POD_NAMESPACE from the pod", manager.Env)
		}
		podLabels := labels.Set(dep.Spec.Template.Labels)
		if tsc := pod.TopologySpreadConstraints; len(tsc) != 1 || tsc[0].LabelSelector == nil ||
			!labels.SelectorFromSet(tsc[0].LabelSelector.MatchLabels).Matches(podLabels) {
			t.Errorf("topology spread %+v: want one constraint selecting the operator's pods", tsc)
		}
		pdb := &policyv1.PodDisruptionBudget{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: fullname + "-controller-manager"}, pdb); err != nil {
			t.Fatalf("the PodDisruptionBudget: %v", err)
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || !sel.Matches(podLabels) || pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
			t.Errorf("PDB %+v: want maxUnavailable 1 over the operator's pods", pdb.Spec)
		}

		sa := "system:serviceaccount:" + ns + ":" + pod.ServiceAccountName
		saGroups := []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}
		for _, tc := range []struct {
			attrs *authorizationv1.ResourceAttributes
			want  bool
		}{
			{&authorizationv1.ResourceAttributes{Verb: "list", Group: "eksaccess.io", Resource: "accessentries"}, true},
			{&authorizationv1.ResourceAttributes{Verb: "patch", Group: "eksaccess.io", Resource: "accessentries", Subresource: "status", Namespace: "team-a"}, true},
			{&authorizationv1.ResourceAttributes{Verb: "update", Group: "eksaccess.io", Resource: "clusteraccessconfigs", Subresource: "finalizers"}, true},
			{&authorizationv1.ResourceAttributes{Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: ns}, true},
			{&authorizationv1.ResourceAttributes{Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: "kube-system"}, false},
			{&authorizationv1.ResourceAttributes{Verb: "create", Group: "authentication.k8s.io", Resource: "tokenreviews"}, true},
			{&authorizationv1.ResourceAttributes{Verb: "create", Group: "authorization.k8s.io", Resource: "subjectaccessreviews"}, true},
			{&authorizationv1.ResourceAttributes{Verb: "get", Resource: "secrets", Namespace: ns}, false},
			// It creates the grants of approved AccessRequests; it deletes none.
			{&authorizationv1.ResourceAttributes{Verb: "create", Group: "eksaccess.io", Resource: "accessentries", Namespace: ns}, true},
			{&authorizationv1.ResourceAttributes{Verb: "delete", Group: "eksaccess.io", Resource: "accessentries", Namespace: ns}, false},
			{&authorizationv1.ResourceAttributes{Verb: "create", Group: "eksaccess.io", Resource: "accessrequests", Namespace: ns}, false},
		} {
			eventually(t, func() (bool, string) {
				got, err := testenv.Allowed(ctx, c, sa, saGroups, tc.attrs)
				return err == nil && got == tc.want, fmt.Sprintf("allowed=%v, error %v", got, err)
			}, "the operator's ServiceAccount allowed=%v to %+v", tc.want, *tc.attrs)
		}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: fullname}, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor"}}); !apierrors.IsNotFound(err) {
			t.Errorf("a ServiceMonitor with the default values: %v", err)
		}
		if !strings.Contains(r.Notes, "NONE SET") {
			t.Errorf("NOTES.txt does not warn that no AWS identity is set:\n%s", r.Notes)
		}
	})

	t.Run("IRSA with monitoring", func(t *testing.T) {
		const ns, fullname = "platform", "access-eks-access-operator"
		r := mustRender(t, "access", ns, map[string]any{
			"aws":          map[string]any{"roleArn": "arn:aws:iam::111122223333:role/eks-access-operator", "region": "eu-west-1"},
			"commonLabels": map[string]any{"team": "platform"},
			"podAnnotations": map[string]any{
				"cluster-autoscaler.kubernetes.io/safe-to-evict": "true",
			},
			"priorityClassName": "system-cluster-critical",
			"nodeSelector":      map[string]any{"kubernetes.io/os": "linux"},
			"tolerations":       []any{map[string]any{"key": "CriticalAddonsOnly", "operator": "Exists"}},
			"metrics": map[string]any{
				"serviceMonitor":        map[string]any{"enabled": true, "labels": map[string]any{"release": "prometheus"}},
				"readerServiceAccounts": []any{map[string]any{"name": "prometheus", "namespace": "monitoring"}},
			},
			"prometheusRule":   map[string]any{"enabled": true},
			"grafanaDashboard": map[string]any{"enabled": true},
		})
		apply(t, ctx, c, ns, r)
		dep := getDeployment(t, ctx, c, ns, fullname+"-controller-manager")
		pod := dep.Spec.Template.Spec
		if pod.PriorityClassName != "system-cluster-critical" || pod.NodeSelector["kubernetes.io/os"] != "linux" || len(pod.Tolerations) != 1 {
			t.Errorf("scheduling: priority %q, node selector %v, tolerations %v", pod.PriorityClassName, pod.NodeSelector, pod.Tolerations)
		}
		if dep.Labels["team"] != "platform" || dep.Spec.Template.Annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] != "true" {
			t.Errorf("labels %v, pod annotations %v", dep.Labels, dep.Spec.Template.Annotations)
		}
		if !slices.Contains(pod.Containers[0].Args, "--region=eu-west-1") {
			t.Errorf("args %q lack the region", pod.Containers[0].Args)
		}
		sa := &corev1.ServiceAccount{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: pod.ServiceAccountName}, sa); err != nil {
			t.Fatal(err)
		}
		if sa.Annotations["eks.amazonaws.com/role-arn"] != "arn:aws:iam::111122223333:role/eks-access-operator" {
			t.Errorf("ServiceAccount annotations %v: want the IRSA role", sa.Annotations)
		}

		svc := &corev1.Service{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: fullname + "-metrics"}, svc); err != nil {
			t.Fatal(err)
		}
		sm := getUnstructured(t, ctx, c, "ServiceMonitor", ns, fullname)
		endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
		smSelector, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
		if len(endpoints) != 1 || sm.GetLabels()["release"] != "prometheus" ||
			!labels.SelectorFromSet(smSelector).Matches(labels.Set(svc.Labels)) {
			t.Fatalf("ServiceMonitor %v: want one endpoint, the release label, and a selector of the metrics Service %v", sm.Object, svc.Labels)
		}
		ep := endpoints[0].(map[string]any)
		if ep["scheme"] != "https" || ep["port"] != svc.Spec.Ports[0].Name || ep["bearerTokenFile"] == nil {
			t.Errorf("ServiceMonitor endpoint %v: want HTTPS on the Service's port %q with Prometheus's token", ep, svc.Spec.Ports[0].Name)
		}

		rule := getUnstructured(t, ctx, c, "PrometheusRule", ns, fullname)
		groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
		var alerts []string
		for _, g := range groups {
			for _, r := range g.(map[string]any)["rules"].([]any) {
				alerts = append(alerts, r.(map[string]any)["alert"].(string))
			}
		}
		for _, want := range []string{"EKSAccessEntriesStalled", "EKSAccessOperatorEKSErrors", "EKSAccessOperatorThrottled", "EKSAccessDriftCorrected", "EKSAccessGrantNotRevokedAtExpiry", "EKSAccessOperatorNoLeader", "EKSAccessBreakGlass", "EKSAccessUnmanagedAdmin"} {
			if !slices.Contains(alerts, want) {
				t.Errorf("PrometheusRule alerts %v lack %s", alerts, want)
			}
		}
		dashboard := &corev1.ConfigMap{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: fullname + "-dashboard"}, dashboard); err != nil {
			t.Fatalf("the dashboard ConfigMap: %v", err)
		}
		if dashboard.Labels["grafana_dashboard"] != "1" || !strings.Contains(dashboard.Data["eks-access-operator.json"], "eks_access_operator_access_entries") {
			t.Errorf("dashboard labels %v; data has the gauge: %v", dashboard.Labels, strings.Contains(dashboard.Data["eks-access-operator.json"], "eks_access_operator_access_entries"))
		}

		reader := "system:serviceaccount:monitoring:prometheus"
		metricsAttrs := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: reader, NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"}}}
		eventually(t, func() (bool, string) {
			sar := metricsAttrs.DeepCopy()
			if err := c.Create(ctx, sar); err != nil {
				return false, err.Error()
			}
			return sar.Status.Allowed, sar.Status.Reason
		}, "Prometheus's ServiceAccount may get /metrics")
		if !strings.Contains(r.Notes, "monitoring/prometheus") || strings.Contains(r.Notes, "NONE SET") {
			t.Errorf("NOTES.txt:\n%s", r.Notes)
		}
	})

	t.Run("one replica with Pod Identity and plain metrics", func(t *testing.T) {
		const ns, fullname = "access-single", "solo-eks-access-operator"
		r := mustRender(t, "solo", ns, map[string]any{
			"replicaCount": 1, "leaderElection": map[string]any{"enabled": false},
			"podDisruptionBudget": map[string]any{"enabled": false},
			"aws":                 map[string]any{"podIdentity": true},
			"metrics":             map[string]any{"secure": false},
			"resources":           map[string]any{"requests": map[string]any{"cpu": "50m", "memory": "128Mi"}, "limits": map[string]any{"memory": "512Mi"}},
		})
		apply(t, ctx, c, ns, r)
		dep := getDeployment(t, ctx, c, ns, fullname+"-controller-manager")
		manager := dep.Spec.Template.Spec.Containers[0]
		if *dep.Spec.Replicas != 1 || slices.Contains(manager.Args, "--leader-elect") || !slices.Contains(manager.Args, "--metrics-secure=false") {
			t.Errorf("replicas %d, args %q: want one replica, no leader election, plain metrics", *dep.Spec.Replicas, manager.Args)
		}
		if manager.Resources.Limits.Memory().String() != "512Mi" || manager.Resources.Requests.Cpu().String() != "50m" {
			t.Errorf("resources %+v", manager.Resources)
		}
		sa := &corev1.ServiceAccount{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: dep.Spec.Template.Spec.ServiceAccountName}, sa); err != nil {
			t.Fatal(err)
		}
		if _, ok := sa.Annotations["eks.amazonaws.com/role-arn"]; ok {
			t.Errorf("Pod Identity, yet the ServiceAccount has an IRSA annotation: %v", sa.Annotations)
		}
		for _, absent := range []client.Object{
			&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fullname + "-controller-manager"}},
			&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fullname + "-leader-election-role"}},
			&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: fullname + "-metrics-auth-role"}},
		} {
			if err := c.Get(ctx, client.ObjectKeyFromObject(absent), absent); !apierrors.IsNotFound(err) {
				t.Errorf("%T %s: %v, want none", absent, absent.GetName(), err)
			}
		}
		if !strings.Contains(r.Notes, "create-pod-identity-association") || !strings.Contains(r.Notes, "--service-account "+sa.Name) {
			t.Errorf("NOTES.txt does not say how to associate the role:\n%s", r.Notes)
		}
	})
}

// installMonitoringCRDs installs the stand-in ServiceMonitor and PrometheusRule CRDs.
func installMonitoringCRDs(t *testing.T, ctx context.Context, c client.Client) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "monitoring-crds.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeAll(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() (bool, string) {
			crd := &apiextv1.CustomResourceDefinition{}
			if err := c.Get(ctx, client.ObjectKey{Name: o.GetName()}, crd); err != nil {
				return false, err.Error()
			}
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextv1.Established && cond.Status == apiextv1.ConditionTrue {
					return true, ""
				}
			}
			return false, "not established"
		}, "CRD %s established", o.GetName())
	}
}

// apply creates the namespace and applies the release server-side: CRDs, then the rest.
func apply(t *testing.T, ctx context.Context, c client.Client, ns string, r *rendered) {
	t.Helper()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for _, o := range append(slices.Clone(r.CRDs), r.Objects...) {
		o := o.DeepCopy()
		// The API server, not the test's client, must judge each object: a retry
		// only waits for the REST mapping of a CRD installed moments ago.
		var err error
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			err = c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("helm"), client.ForceOwnership)
			if err == nil || time.Now().After(deadline) || !strings.Contains(err.Error(), "no matches for kind") {
				break
			}
		}
		if err != nil {
			t.Fatalf("applying %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

func getDeployment(t *testing.T, ctx context.Context, c client.Client, ns, name string) *appsv1.Deployment {
	t.Helper()
	dep := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, dep); err != nil {
		t.Fatalf("the Deployment: %v", err)
	}
	return dep
}

func getUnstructured(t *testing.T, ctx context.Context, c client.Client, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("monitoring.coreos.com/v1")
	u.SetKind(kind)
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		t.Fatalf("%s %s/%s: %v", kind, ns, name, err)
	}
	return u
}

// eventually waits up to 30s (RBAC reaches the authorizer through a watch).
func eventually(t *testing.T, cond func() (bool, string), format string, args ...any) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, fmt.Sprintf(format, args...), cond)
}
