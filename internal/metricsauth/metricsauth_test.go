package metricsauth

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// TestFilterAgainstAPIServer guards a handler with the filter against a real
// kube-apiserver: no token and a made-up one are refused 401, a service account
// without a role granting get on /metrics 403, one with it is served, and only on
// the path its role names.
func TestFilterAgainstAPIServer(t *testing.T) {
	testenv.RequireControlPlane(t)
	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const ns = "monitoring"
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}))
	for _, sa := range []string{"prometheus", "nobody"} {
		must(cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}))
	}
	// The rule of config/rbac's metrics-reader role.
	must(cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader"},
		Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{}))
	must(cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prometheus-metrics-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "prometheus", Namespace: ns}},
	}, metav1.CreateOptions{}))
	token := func(sa string) string {
		t.Helper()
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("a token for %s: %v", sa, err)
		}
		return tr.Status.Token
	}
	reader, nobody := token("prometheus"), token("nobody")

	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	filter, err := FilterProvider(cfg, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	guarded, err := filter(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "served")
	}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(guarded) // loopback
	t.Cleanup(srv.Close)

	get := func(path, authorization string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, c := range []struct {
		what, path, authorization string
		want                      int
	}{
		{"no token", "/metrics", "", http.StatusUnauthorized},
		{"not a bearer token", "/metrics", "Basic " + reader, http.StatusUnauthorized},
		{"a made-up token", "/metrics", "Bearer not-a-token", http.StatusUnauthorized},
		{"a token without the role", "/metrics", "Bearer " + nobody, http.StatusForbidden},
		{"the reader's token", "/metrics", "Bearer " + reader, http.StatusOK},
		{"the reader's token, again (cached)", "/metrics", "bearer " + reader, http.StatusOK},
		{"the reader's token on another path", "/debug/pprof/heap", "Bearer " + reader, http.StatusForbidden},
	} {
		code, body := get(c.path, c.authorization)
		if code != c.want {
			t.Errorf("%s: HTTP %d, want %d: %.200s", c.what, code, c.want, body)
		}
		if (code == http.StatusOK) != (body == "served") {
			t.Errorf("%s: HTTP %d with body %.200q", c.what, code, body)
		}
	}
}

// stubTokens answers TokenReviews from a table of tokens, counting them.
type stubTokens struct {
	users map[string]authenticationv1.UserInfo
	fail  []error // the answers of the first calls
	calls int
}

func (s *stubTokens) Create(_ context.Context, tr *authenticationv1.TokenReview, _ metav1.CreateOptions) (*authenticationv1.TokenReview, error) {
	s.calls++
	if len(s.fail) > 0 {
		err := s.fail[0]
		s.fail = s.fail[1:]
		return nil, err
	}
	out := tr.DeepCopy()
	if u, ok := s.users[tr.Spec.Token]; ok {
		out.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: u}
	}
	return out, nil
}

// stubAccess allows the users it names get on /metrics, counting its reviews.
type stubAccess struct {
	allowed map[string]bool
	last    authorizationv1.SubjectAccessReviewSpec
	calls   int
}

func (s *stubAccess) Create(_ context.Context, sar *authorizationv1.SubjectAccessReview, _ metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error) {
	s.calls++
	s.last = sar.Spec
	out := sar.DeepCopy()
	a := sar.Spec.NonResourceAttributes
	out.Status.Allowed = s.allowed[sar.Spec.User] && a != nil && a.Path == "/metrics" && a.Verb == "get"
	return out, nil
}

// TestFilterCachesAndRetries: answers are kept for their lifetimes, a review that
// failed for a while is asked again, and one the API server refuses is not.
func TestFilterCachesAndRetries(t *testing.T) {
	tokens := &stubTokens{users: map[string]authenticationv1.UserInfo{
		"reader-token": {Username: "system:serviceaccount:monitoring:prometheus", UID: "u1", Groups: []string{"system:serviceaccounts"},
			Extra: map[string]authenticationv1.ExtraValue{"authentication.kubernetes.io/pod-name": {"prometheus-0"}}},
		"other-token": {Username: "someone"},
	}}
	access := &stubAccess{allowed: map[string]bool{"system:serviceaccount:monitoring:prometheus": true}}
	now := time.Unix(1_000_000, 0)
	r := &Reviewer{tokens: tokens, access: access, now: func() time.Time { return now },
		users: map[[32]byte]cached[*authenticationv1.UserInfo]{}, decisions: map[string]cached[bool]{}}
	h, err := r.Filter(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	if err != nil {
		t.Fatal(err)
	}
	get := func(token string) int {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}

	if code := get("reader-token"); code != http.StatusOK {
		t.Fatalf("reader: HTTP %d", code)
	}
	if got := access.last; got.User != "system:serviceaccount:monitoring:prometheus" || got.UID != "u1" ||
		len(got.Groups) != 1 || got.Extra["authentication.kubernetes.io/pod-name"][0] != "prometheus-0" {
		t.Errorf("the SubjectAccessReview was not of the token's user: %+v", got)
	}
	for range 3 {
		get("reader-token")
	}
	if tokens.calls != 1 || access.calls != 1 {
		t.Errorf("four scrapes within a minute: %d TokenReviews and %d SubjectAccessReviews, want 1 and 1", tokens.calls, access.calls)
	}
	now = now.Add(authenticatedTTL)
	get("reader-token")
	if tokens.calls != 2 || access.calls != 1 {
		t.Errorf("after a minute: %d TokenReviews and %d SubjectAccessReviews, want 2 and 1", tokens.calls, access.calls)
	}
	if code := get("other-token"); code != http.StatusForbidden {
		t.Errorf("a user without the role: HTTP %d, want 403", code)
	}
	if code := get("unknown"); code != http.StatusUnauthorized {
		t.Errorf("an unknown token: HTTP %d, want 401", code)
	}

	// Two failures then an answer: served, after waiting out the backoff.
	tokens.fail = []error{apierrors.NewServiceUnavailable("restarting"), apierrors.NewTooManyRequests("slow down", 1)}
	now = now.Add(authenticatedTTL)
	if code := get("reader-token"); code != http.StatusOK {
		t.Errorf("after two transient failures: HTTP %d, want 200", code)
	}
	// A refusal of the review itself is not asked again: 500, as controller-runtime's filter answers.
	before := tokens.calls
	tokens.fail = []error{apierrors.NewForbidden(schema.GroupResource{Group: "authentication.k8s.io", Resource: "tokenreviews"}, "", nil)}
	now = now.Add(authenticatedTTL)
	if code := get("reader-token"); code != http.StatusInternalServerError {
		t.Errorf("the operator may not create TokenReviews: HTTP %d, want 500", code)
	}
	if tokens.calls != before+1 {
		t.Errorf("a forbidden TokenReview was asked %d times, want once", tokens.calls-before)
	}
}

func TestDecisionKeyIgnoresOrder(t *testing.T) {
	a := &authenticationv1.UserInfo{Username: "u", Groups: []string{"a", "b"},
		Extra: map[string]authenticationv1.ExtraValue{"x": {"1"}, "y": {"2"}}}
	b := &authenticationv1.UserInfo{Username: "u", Groups: []string{"b", "a"},
		Extra: map[string]authenticationv1.ExtraValue{"y": {"2"}, "x": {"1"}}}
	if decisionKey(a, "get", "/metrics") != decisionKey(b, "get", "/metrics") {
		t.Error("the same user's groups in another order give another key")
	}
	c := &authenticationv1.UserInfo{Username: "u", Groups: []string{"a"}}
	if decisionKey(a, "get", "/metrics") == decisionKey(c, "get", "/metrics") {
		t.Error("users of different groups share a key")
	}
	if decisionKey(a, "get", "/metrics") == decisionKey(a, "post", "/metrics") {
		t.Error("two verbs share a key")
	}
}
