package e2e

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

const (
	emuAccount = "111122223333"
	emuRegion  = "us-west-2"
	emuCluster = "demo"
)

// TestMetricsEndpoint runs the operator binary with its default, secure metrics and
// scrapes them: no token is refused, a token without the metrics-reader role is
// forbidden, one bound to config/rbac's metrics-reader is served, and the gauge
// counts a Stalled object. Every metric the chart's alerts name is served, the
// events alerts' too (the operator reads the emulator's events queue).
func TestMetricsEndpoint(t *testing.T) {
	testenv.RequireControlPlane(t)
	bin := operatorBinary(t)
	addr := freeAddr(t)
	w, err := testenv.NewWorld(testenv.WorldOptions{
		Emulator: eksemulator.Config{Clusters: []eksemulator.ClusterConfig{{Name: emuCluster, Account: emuAccount, Region: emuRegion, AuthenticationMode: eksemulator.ModeAPI}},
			Events: eksemulator.EventsConfig{Queue: "eks-access-events"}},
		Operator: bin, WorkDir: t.TempDir(), Region: emuRegion,
		OperatorArgs: []string{"--leader-elect", "--instance-id=metrics-test"},
		MetricsAddr:  addr,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	ctx := context.Background()
	// The operator's namespace: trusted, and where its lease is (as in a pod).
	t.Setenv("POD_NAMESPACE", namespace)
	for _, ns := range []string{namespace, "monitoring"} {
		if err := w.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.StartOperator("--events-queue-url=" + w.Emulator.QueueURL("eks-access-events")); err != nil {
		t.Fatal(err)
	}

	ready := accessEntry("viewers", emuCluster, "arn:aws:iam::111122223333:role/viewers")
	// A grant with an end, so that the time-bound gauge (of an alert) has a series.
	ready.Spec.ExpiresAt = &metav1.Time{Time: time.Now().Add(24 * time.Hour).Truncate(time.Second)}
	stalled := accessEntry("lost", "no-such-cluster", "arn:aws:iam::111122223333:role/lost")
	for _, ae := range []*v1.AccessEntry{ready, stalled} {
		if err := w.Client.Create(ctx, ae); err != nil {
			t.Fatal(err)
		}
	}
	waitCondition(t, w.Client, ready, v1.ConditionReady, v1.ReasonSynced)
	waitCondition(t, w.Client, stalled, v1.ConditionStalled, v1.ReasonClusterNotFound)

	reader, nobody := scraperTokens(t, ctx, w)
	httpClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		// The operator's certificate is self-signed (no --metrics-cert-dir).
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a test of a self-signed endpoint on loopback
	}}
	scrape := func(token string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	// Secure serving starts with the manager: wait until it answers at all.
	testenv.Eventually(t, 30*time.Second, "the metrics endpoint to answer", func() (bool, string) {
		code, body := scrape("")
		return code != 0, body
	})
	if code, body := scrape(""); code != http.StatusUnauthorized {
		t.Errorf("no token: HTTP %d, want 401\n%.300s", code, body)
	}
	// controller-runtime's filter answers 500 when the TokenReview itself fails, as
	// it does for a string that is no token at all: refused either way.
	if code, body := scrape("not-a-token"); code != http.StatusUnauthorized && code != http.StatusInternalServerError {
		t.Errorf("a made-up token: HTTP %d, want a refusal\n%.300s", code, body)
	}
	if code, body := scrape(nobody); code != http.StatusForbidden {
		t.Errorf("a token without the metrics-reader role: HTTP %d, want 403\n%.300s", code, body)
	}
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/metrics"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP was served:\n%.300s", body)
		}
	}

	gauge := `eks_access_operator_access_entries{cluster="no-such-cluster",ready="False",reason="ClusterNotFound",region="us-west-2",stalled="true"} 1`
	readyGauge := `eks_access_operator_access_entries{cluster="demo",ready="True",reason="Synced",region="us-west-2",stalled="false"} 1`
	var body string
	flowing := `eks_access_operator_events_flowing{account="111122223333",region="us-west-2"} 1`
	timeBound := `eks_access_operator_time_bound_grants{cluster="demo",region="us-west-2",state="active"} 1`
	// The viewers hold no admin-equivalent policy: the cluster's series says 0.
	noUnmanagedAdmin := `eks_access_operator_admin_holders{cluster="demo",origin="Unmanaged",region="us-west-2"} 0`
	testenv.Eventually(t, 60*time.Second, "the gauges to count the Stalled and the Ready object, the time-bound grant and no admin holder, and events to flow", func() (bool, string) {
		var code int
		code, body = scrape(reader)
		return code == http.StatusOK && strings.Contains(body, gauge) && strings.Contains(body, readyGauge) && strings.Contains(body, flowing) && strings.Contains(body, timeBound) &&
			strings.Contains(body, noUnmanagedAdmin), body
	})

	// The alerts of the chart are written on metrics the operator serves.
	r := mustRender(t, "eks-access-operator", namespace, map[string]any{"prometheusRule": map[string]any{"enabled": true},
		"events": map[string]any{"queueURL": w.Emulator.QueueURL("eks-access-events")}})
	rule := r.find("PrometheusRule", "eks-access-operator")
	if rule == nil {
		t.Fatal("no PrometheusRule")
	}
	var names []string
	for _, m := range regexp.MustCompile(`([a-z_:]+)\{`).FindAllStringSubmatch(renderedExprs(rule.Object), -1) {
		if !slices.Contains(names, m[1]) && m[1] != "absent" {
			names = append(names, m[1])
		}
	}
	if len(names) < 4 || !slices.Contains(names, "eks_access_operator_events_flowing") || !slices.Contains(names, "eks_access_operator_events_total") {
		t.Fatalf("found only %v in the alerts", names)
	}
	for _, name := range names {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `[{ ]`).MatchString(body) {
			t.Errorf("the alerts use %s, which the operator does not serve", name)
		}
	}
	// And the dashboard's.
	dashboard, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), chartDir, "dashboards", "eks-access-operator.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\b((?:eks_access_operator|controller_runtime|workqueue|leader_election)_[a-z_]+)\{`).FindAllStringSubmatch(string(dashboard), -1) {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(m[1]) + `[{ ]`).MatchString(body) {
			t.Errorf("the dashboard uses %s, which the operator does not serve", m[1])
		}
	}
}

// renderedExprs joins the expr of every rule of a PrometheusRule.
func renderedExprs(obj map[string]any) string {
	var out []string
	spec, _ := obj["spec"].(map[string]any)
	groups, _ := spec["groups"].([]any)
	for _, g := range groups {
		rules, _ := g.(map[string]any)["rules"].([]any)
		for _, r := range rules {
			if e, ok := r.(map[string]any)["expr"].(string); ok {
				out = append(out, e)
			}
		}
	}
	return strings.Join(out, "\n")
}

// scraperTokens makes two ServiceAccounts in namespace monitoring and returns a
// token of each: prometheus, bound to config/rbac's metrics-reader ClusterRole as
// the docs say, and nobody, bound to nothing.
func scraperTokens(t *testing.T, ctx context.Context, w *testenv.World) (reader, nobody string) {
	t.Helper()
	role := &rbacv1.ClusterRole{}
	readConfigObject(t, "metrics_reader_role.yaml", role)
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prometheus-metrics-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "prometheus", Namespace: "monitoring"}},
	}
	for _, obj := range []client.Object{role, binding,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "prometheus", Namespace: "monitoring"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nobody", Namespace: "monitoring"}},
	} {
		if err := w.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := kubernetes.NewForConfig(w.Config)
	if err != nil {
		t.Fatal(err)
	}
	token := func(sa string) string {
		tr, err := cs.CoreV1().ServiceAccounts("monitoring").CreateToken(ctx, sa,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("a token for %s: %v", sa, err)
		}
		return tr.Status.Token
	}
	return token("prometheus"), token("nobody")
}

// accessEntry is a STANDARD AccessEntry in the operator's namespace with one
// cluster-wide view policy.
func accessEntry(name, cluster, principal string) *v1.AccessEntry {
	ae := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	ae.Spec.ClusterName, ae.Spec.Region, ae.Spec.PrincipalARN = cluster, emuRegion, principal
	ae.Spec.AccessPolicies = []v1.AccessPolicy{{
		PolicyARN:   "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
		AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster},
	}}
	return ae
}

// waitCondition waits until the object's condition typ is True with reason.
func waitCondition(t *testing.T, c client.Client, ae *v1.AccessEntry, typ, reason string) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, ae.Name+" "+typ+"="+reason, func() (bool, string) {
		got := &v1.AccessEntry{}
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(ae), got); err != nil {
			return false, err.Error()
		}
		cond := meta.FindStatusCondition(got.Status.Conditions, typ)
		return cond != nil && cond.Status == metav1.ConditionTrue && cond.Reason == reason, conditionsString(got)
	})
}

func conditionsString(ae *v1.AccessEntry) string {
	var out []string
	for _, c := range ae.Status.Conditions {
		out = append(out, c.Type+"="+string(c.Status)+" "+c.Reason+": "+c.Message)
	}
	return strings.Join(out, "; ")
}
