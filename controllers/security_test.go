package controllers

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
	"go.uber.org/zap/zapcore"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/budget"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// The suite's managers run as the ServiceAccount config/rbac binds manager-role
// to (see testenv.ManagerConfig), so every other test also proves the role is
// enough. This test proves it is not more than that.
func TestManagerRunsWithItsRBACOnly(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	mc, err := client.New(managerCfg, client.Options{Scheme: newScheme()})
	if err != nil {
		t.Fatal(err)
	}

	// Who the API server takes the manager for.
	review := &authenticationv1.SelfSubjectReview{}
	if err := mc.Create(ctx, review); err != nil {
		t.Fatal(err)
	}
	if u := review.Status.UserInfo; u.Username != managerRBAC.Username() || slices.Contains(u.Groups, "system:masters") {
		t.Fatalf("the manager runs as %s in groups %v, want %s and not system:masters", u.Username, u.Groups, managerRBAC.Username())
	}

	// Everything it may do in a namespace beyond what any ServiceAccount may (ask
	// who it is and what it may do, discovery, cluster trust bundles) is granted by
	// role.yaml. The baseline is another ServiceAccount of its namespace, unbound.
	unbound := rest.CopyConfig(restCfg)
	unbound.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + managerRBAC.ServiceAccount.Namespace + ":unbound",
		Groups:   append([]string{"system:authenticated"}, managerRBAC.Groups()...),
	}
	nc, err := client.New(unbound, client.Options{Scheme: newScheme()})
	if err != nil {
		t.Fatal(err)
	}
	baseline := map[string]bool{}
	for _, p := range namespaceRules(t, nc) {
		baseline[p] = true
	}
	has := map[string]bool{}
	for _, p := range namespaceRules(t, mc) {
		has[p] = true
		if f := strings.Fields(p); !baseline[p] && !grants(managerRBAC.Role.Rules, f[2], f[1], f[0]) {
			t.Errorf("the manager may %s in %s, which role.yaml does not grant", p, testNS)
		}
	}
	// And all of role.yaml: the binding is in force.
	for _, r := range managerRBAC.Role.Rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, verb := range r.Verbs {
					if p := verb + " " + res + " " + cmp.Or(g, `""`); !has[p] {
						t.Errorf("the manager may not %s, which role.yaml grants", p)
					}
				}
			}
		}
	}

	for _, c := range []struct {
		verb, group, resource, subresource, namespace string
		want                                          bool
	}{
		// What the reconcilers do.
		{"watch", "eksaccess.io", "accessentries", "", "", true},
		{"patch", "eksaccess.io", "accessentries", "", testNS, true},
		{"patch", "eksaccess.io", "accessentries", "status", testNS, true},
		{"update", "eksaccess.io", "accessentries", "finalizers", testNS, true},
		{"watch", "eksaccess.io", "clusteraccessconfigs", "", "", true},
		{"patch", "eksaccess.io", "clusteraccessconfigs", "status", "", true},
		// Patch, for the finalizer that keeps a config while AccessEntries use it.
		{"patch", "eksaccess.io", "clusteraccessconfigs", "", "", true},
		{"update", "eksaccess.io", "clusteraccessconfigs", "finalizers", "", true},
		{"watch", "", "namespaces", "", "", true},
		{"create", "events.k8s.io", "events", "", testNS, true},
		{"patch", "", "events", "", testNS, true},
		// The AccessRequest controller: it reads requests and approvals, writes
		// the requests' status, and creates the grant of an approved request.
		{"watch", "eksaccess.io", "accessrequests", "", "", true},
		{"patch", "eksaccess.io", "accessrequests", "status", testNS, true},
		{"watch", "eksaccess.io", "accessapprovals", "", "", true},
		{"create", "eksaccess.io", "accessentries", "", testNS, true},
		// What they must not: AccessEntries other than grants, ClusterAccessConfigs,
		// requests and approvals are written by people (and GitOps), guardrails by
		// the platform team; a grant goes with its request (garbage collection).
		{"create", "eksaccess.io", "accessrequests", "", testNS, false},
		{"patch", "eksaccess.io", "accessrequests", "", testNS, false},
		{"create", "eksaccess.io", "accessapprovals", "", testNS, false},
		{"delete", "eksaccess.io", "accessentries", "", testNS, false},
		{"create", "eksaccess.io", "clusteraccessconfigs", "", "", false},
		{"delete", "eksaccess.io", "clusteraccessconfigs", "", "", false},
		{"update", "", "namespaces", "", "", false},
		{"delete", "", "events", "", testNS, false},
		// Nor anything else: no secrets, no aws-auth, no tokens, no way to more rights.
		{"list", "", "secrets", "", testNS, false},
		{"get", "", "secrets", "", "kube-system", false},
		{"get", "", "configmaps", "", "kube-system", false},
		{"create", "", "serviceaccounts", "token", "kube-system", false},
		{"create", "", "pods", "", testNS, false},
		{"create", "coordination.k8s.io", "leases", "", testNS, false},
		{"create", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", false},
		{"escalate", "rbac.authorization.k8s.io", "clusterroles", "", "", false},
		{"bind", "rbac.authorization.k8s.io", "clusterroles", "", "", false},
		{"impersonate", "", "users", "", "", false},
		{"update", "apiextensions.k8s.io", "customresourcedefinitions", "", "", false},
	} {
		attrs := &authorizationv1.ResourceAttributes{Verb: c.verb, Group: c.group, Resource: c.resource, Subresource: c.subresource, Namespace: c.namespace}
		allowed, err := testenv.Allowed(ctx, k8s, managerRBAC.Username(), managerRBAC.Groups(), attrs)
		if err != nil {
			t.Fatal(err)
		}
		if allowed != c.want {
			what := strings.Join(slices.DeleteFunc([]string{c.resource, c.subresource}, func(s string) bool { return s == "" }), "/")
			if c.group != "" {
				what += " (" + c.group + ")"
			}
			if c.namespace != "" {
				what += " in " + c.namespace
			}
			t.Errorf("may the manager %s %s? %v, want %v", c.verb, what, allowed, c.want)
		}
	}

	// The same through the manager's own client: what it needs works...
	if err := mc.List(ctx, &v1.AccessEntryList{}, client.InNamespace(testNS)); err != nil {
		t.Fatalf("the manager cannot list AccessEntries: %v", err)
	}
	// ...and the rest is forbidden (authorization comes before any lookup, so a
	// name that does not exist is Forbidden, not NotFound).
	for what, err := range map[string]error{
		"list Secrets":                 mc.List(ctx, &corev1.SecretList{}, client.InNamespace(testNS)),
		"get the aws-auth ConfigMap":   mc.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "aws-auth"}, &corev1.ConfigMap{}),
		"delete a ClusterAccessConfig": mc.Delete(ctx, &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: "demo"}}),
		"delete an AccessEntry":        mc.Delete(ctx, entry("forbidden", roleARN("forbidden"))),
		"create an AccessRequest":      mc.Create(ctx, &v1.AccessRequest{ObjectMeta: metav1.ObjectMeta{Name: "forbidden", Namespace: testNS}}),
	} {
		if !apierrors.IsForbidden(err) {
			t.Errorf("the manager's client may %s: %v, want Forbidden", what, err)
		}
	}
}

// namespaceRules are the permissions of c's user in the test namespace, one
// "verb resource group" each, from a SelfSubjectRulesReview.
func namespaceRules(t *testing.T, c client.Client) []string {
	t.Helper()
	review := &authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: testNS}}
	if err := c.Create(context.Background(), review); err != nil {
		t.Fatal(err)
	}
	if review.Status.Incomplete {
		t.Fatalf("incomplete rules review: %s", review.Status.EvaluationError)
	}
	var out []string
	for _, r := range review.Status.ResourceRules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, verb := range r.Verbs {
					out = append(out, verb+" "+res+" "+cmp.Or(g, `""`))
				}
			}
		}
	}
	return out
}

// grants says whether one of rules allows verb on resource in group.
func grants(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	if group == `""` {
		group = ""
	}
	return slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool {
		return len(r.ResourceNames) == 0 && slices.Contains(r.APIGroups, group) &&
			slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb)
	})
}

// TestNoCredentialsOrRequestBodiesInLogsOrEvents runs a manager with its logs at
// the most verbose level and recognisable AWS credentials taken from the
// environment, as in production, drives it through successes, an EKS error,
// throttling and a missing cluster, and looks for the credentials and for EKS
// request bodies in its logs (the SDK's too) and in every Event of the namespace.
func TestNoCredentialsOrRequestBodiesInLogsOrEvents(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	secret := "SECRET-MUST-NOT-LEAK-" + rand.String(12)
	token := "TOKEN-MUST-NOT-LEAK-" + rand.String(12)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDSECURITYTEST", "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": token,
		"AWS_REGION": region, "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	} {
		t.Setenv(k, v)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if creds, err := awsCfg.Credentials.Retrieve(ctx); err != nil || creds.SecretAccessKey != secret || creds.SessionToken != token {
		t.Fatalf("the SDK's default chain did not take the credentials from the environment: %v", err)
	}
	logs := &syncBuffer{}
	awsCfg.Logger = logging.NewStandardLogger(logs)

	stopManager, err := testManager{
		selector: shardLabel + "=logged",
		resync:   10 * time.Minute,
		logger:   zap.New(zap.WriteTo(logs), zap.Level(zapcore.Level(-10))),
		tune: []func(*AccessEntryReconciler){func(r *AccessEntryReconciler) {
			// Two attempts a call, so that the SDK's retries are in the logs too.
			r.AWS = testClients(awsCfg, emu.URL(), &budget.Options{QPS: 20, Burst: 20}, func(o *awsapi.Options) { o.MaxAttempts = 2 })
		}},
	}.start()
	if err != nil {
		t.Fatal(err)
	}
	stopManager = sync.OnceFunc(stopManager)
	t.Cleanup(stopManager)
	t.Cleanup(func() { emu.SetFaults(eksemulator.Faults{}) })

	logged := func(ae *v1.AccessEntry) { ae.Labels = map[string]string{shardLabel: "logged"} }
	ae := entry("logged", roleARN("logged"), logged, func(ae *v1.AccessEntry) {
		ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"auditors"}
		ae.Spec.Tags = map[string]v1.TagValue{"team": "security"}
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy, "team-a")}
	})
	create(t, ae)
	waitReady(t, ae, 30*time.Second)

	emu.SetFaults(eksemulator.Faults{FaultRate: 1})
	ae = update(t, ae, func(ae *v1.AccessEntry) { ae.Spec.KubernetesGroups = append(ae.Spec.KubernetesGroups, "reviewers") })
	waitReason(t, ae, v1.ReasonEKSError, 30*time.Second)

	emu.SetFaults(eksemulator.Faults{RateLimit: 0.001, Burst: 1})
	waitReason(t, ae, v1.ReasonThrottled, 60*time.Second)

	emu.SetFaults(eksemulator.Faults{})
	waitReady(t, ae, 60*time.Second)

	missing := entry("logged-missing-cluster", roleARN("logged-missing-cluster"), logged, func(ae *v1.AccessEntry) { ae.Spec.ClusterName = "nosuchcluster" })
	create(t, missing)
	waitReason(t, missing, v1.ReasonClusterNotFound, 30*time.Second)

	// The events are sent in the background: wait for those of the failures.
	for _, want := range []struct{ name, reason string }{
		{ae.Name, v1.ReasonEKSError}, {ae.Name, v1.ReasonThrottled}, {missing.Name, v1.ReasonClusterNotFound},
	} {
		eventually(t, 30*time.Second, "a "+want.reason+" event for "+want.name, func() (bool, string) {
			list := &eventsv1.EventList{}
			if err := k8s.List(ctx, list, client.InNamespace(testNS)); err != nil {
				return false, err.Error()
			}
			return slices.ContainsFunc(list.Items, func(e eventsv1.Event) bool {
				return e.Regarding.Name == want.name && e.Reason == want.reason
			}), fmt.Sprintf("%d events", len(list.Items))
		})
	}
	deleteAndWait(t, client.ObjectKeyFromObject(ae))
	deleteAndWait(t, client.ObjectKeyFromObject(missing))
	stopManager()

	leaks := []leak{
		{what: "the AWS secret access key", text: secret},
		{what: "the AWS session token", text: token},
		{what: "an EKS request body", text: `"principalArn":"arn:`},
		{what: "an EKS request body (JSON-escaped)", text: `\"principalArn\":\"arn:`},
		{what: "an EKS request's idempotency token", text: "clientRequestToken", anyCase: true},
		{what: "an SDK input struct", text: "PrincipalArn"},
		{what: "a signed request's Authorization header", text: "AWS4-HMAC-SHA256"},
		{what: "the session token header", text: "X-Amz-Security-Token", anyCase: true},
	}
	out := logs.String()
	// The logs have to hold the reconciles for their absence of secrets to mean anything.
	for _, want := range []string{`"Reconciling"`, `"Reconciler error"`, "ServerException", ae.Name, missing.Name} {
		if !strings.Contains(out, want) {
			t.Fatalf("the manager's logs do not mention %s; the logger is not wired:\n%s", want, out)
		}
	}
	for _, l := range leaks {
		if i := l.in(out); i >= 0 {
			t.Errorf("the manager's logs hold %s: ...%s...", l.what, out[max(0, i-300):min(len(out), i+300)])
		}
	}

	// Every Event of the namespace, through both APIs, as JSON.
	var events []any
	ev1, core := &eventsv1.EventList{}, &corev1.EventList{}
	for _, list := range []client.ObjectList{ev1, core} {
		if err := k8s.List(ctx, list, client.InNamespace(testNS)); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range ev1.Items {
		events = append(events, e)
	}
	for _, e := range core.Items {
		events = append(events, e)
	}
	for _, e := range events {
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range leaks {
			if i := l.in(string(data)); i >= 0 {
				t.Errorf("an Event holds %s: ...%s...", l.what, data[max(0, i-200):min(len(data), i+200)])
			}
		}
	}
	t.Logf("checked %d bytes of logs and %d events", len(out), len(events))
}

// leak is text that must not be in logs or events.
type leak struct {
	what, text string
	anyCase    bool
}

// in is the index of the leak in s, or -1.
func (l leak) in(s string) int {
	if l.anyCase {
		return strings.Index(strings.ToLower(s), strings.ToLower(l.text))
	}
	return strings.Index(s, l.text)
}

// syncBuffer is a bytes.Buffer that the manager's goroutines and the SDK may
// write at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
