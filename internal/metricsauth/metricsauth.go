// Package metricsauth guards the metrics endpoint the way the API server guards its
// own: a caller must send a bearer token the API server accepts (a TokenReview) and
// be allowed the HTTP verb on the path requested (a SubjectAccessReview of a
// non-resource URL, e.g. get on /metrics).
//
// It does what controller-runtime's filters.WithAuthenticationAndAuthorization does,
// answering with the same status codes, but with client-go's typed clients alone.
// That filter is built on k8s.io/apiserver's delegating authenticator and
// authorizer, which link in much of the API server (CEL, OpenTelemetry, the
// apiserver's admission and config types): about a third of the operator's binary,
// whose pages the operator then carries in its resident memory.
package metricsauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authenticationclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// The cache lifetimes of controller-runtime's filter (and the API server's
// delegating authorizer): a review is asked again at most this often for one
// token, or one user, verb and path.
const (
	authenticatedTTL   = time.Minute
	unauthenticatedTTL = 10 * time.Second
	allowTTL           = 5 * time.Minute
	denyTTL            = 30 * time.Second
	// reviewTimeout bounds one review, all its tries included.
	reviewTimeout = 10 * time.Second
	// maxCached bounds each cache; a scrape every few seconds by a handful of
	// scrapers holds a few entries.
	maxCached = 1024
)

// Reviewer asks the API server whether a request's token is valid and whether its
// user may make the request. Its zero value is not usable: see New.
type Reviewer struct {
	tokens authenticationclient.TokenReviewInterface
	access authorizationclient.SubjectAccessReviewInterface
	now    func() time.Time

	mu        sync.Mutex
	users     map[[sha256.Size]byte]cached[*authenticationv1.UserInfo]
	decisions map[string]cached[bool]
}

type cached[T any] struct {
	value   T
	expires time.Time
}

// FilterProvider is a metricsserver.Options.FilterProvider: the manager calls it
// with its REST config and HTTP client when it builds the metrics server.
func FilterProvider(config *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	r, err := New(config, httpClient)
	if err != nil {
		return nil, err
	}
	return r.Filter, nil
}

// New is a Reviewer that asks the API server of config through httpClient.
func New(config *rest.Config, httpClient *http.Client) (*Reviewer, error) {
	authn, err := authenticationclient.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, fmt.Errorf("the TokenReview client: %w", err)
	}
	authz, err := authorizationclient.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, fmt.Errorf("the SubjectAccessReview client: %w", err)
	}
	return &Reviewer{
		tokens: authn.TokenReviews(), access: authz.SubjectAccessReviews(), now: time.Now,
		users:     map[[sha256.Size]byte]cached[*authenticationv1.UserInfo]{},
		decisions: map[string]cached[bool]{},
	}, nil
}

// Filter wraps handler: a request without a valid bearer token is answered 401, one
// whose user may not make it 403, and one whose review failed 500 (the answers of
// controller-runtime's filter); only an allowed one reaches handler.
func (r *Reviewer) Filter(log logr.Logger, handler http.Handler) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), reviewTimeout)
		defer cancel()
		token := bearerToken(req)
		if token == "" {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		user, err := r.authenticate(ctx, token)
		if err != nil {
			log.Error(err, "Authentication failed")
			http.Error(w, "Authentication failed", http.StatusInternalServerError)
			return
		}
		if user == nil {
			log.V(4).Info("Authentication failed")
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		verb, path := strings.ToLower(req.Method), req.URL.Path
		allowed, err := r.authorize(ctx, user, verb, path)
		if err != nil {
			msg := fmt.Sprintf("Authorization for user %s failed", user.Username)
			log.Error(err, msg)
			http.Error(w, msg, http.StatusInternalServerError)
			return
		}
		if !allowed {
			msg := fmt.Sprintf("Authorization denied for user %s", user.Username)
			log.V(4).Info(msg, "verb", verb, "path", path)
			http.Error(w, msg, http.StatusForbidden)
			return
		}
		handler.ServeHTTP(w, req)
	}), nil
}

// bearerToken is the token of an "Authorization: Bearer TOKEN" header, or "".
func bearerToken(req *http.Request) string {
	parts := strings.Fields(req.Header.Get("Authorization"))
	if len(parts) != 2 || !strings.EqualFold(parts[0], "bearer") {
		return ""
	}
	return parts[1]
}

// authenticate is the user of token, or nil when the API server does not accept it.
func (r *Reviewer) authenticate(ctx context.Context, token string) (*authenticationv1.UserInfo, error) {
	// The cache is keyed by the token's hash, so that it holds no token.
	key := sha256.Sum256([]byte(token))
	if user, ok := lookup(r, r.users, key); ok {
		return user, nil
	}
	var review *authenticationv1.TokenReview
	err := retry(ctx, func() (err error) {
		review, err = r.tokens.Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("TokenReview: %w", err)
	}
	if !review.Status.Authenticated {
		store(r, r.users, key, nil, unauthenticatedTTL)
		return nil, nil
	}
	user := review.Status.User
	store(r, r.users, key, &user, authenticatedTTL)
	return &user, nil
}

// authorize reports whether user may make a request of verb on the non-resource path.
func (r *Reviewer) authorize(ctx context.Context, user *authenticationv1.UserInfo, verb, path string) (bool, error) {
	key := decisionKey(user, verb, path)
	if allowed, ok := lookup(r, r.decisions, key); ok {
		return allowed, nil
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, UID: user.UID, Groups: user.Groups,
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: path, Verb: verb},
	}}
	if len(user.Extra) > 0 {
		sar.Spec.Extra = make(map[string]authorizationv1.ExtraValue, len(user.Extra))
		for k, v := range user.Extra {
			sar.Spec.Extra[k] = authorizationv1.ExtraValue(v)
		}
	}
	var answer *authorizationv1.SubjectAccessReview
	err := retry(ctx, func() (err error) {
		answer, err = r.access.Create(ctx, sar, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("SubjectAccessReview: %w", err)
	}
	allowed := answer.Status.Allowed && !answer.Status.Denied
	ttl := denyTTL
	if allowed {
		ttl = allowTTL
	}
	store(r, r.decisions, key, allowed, ttl)
	return allowed, nil
}

// decisionKey names a user's request: everything a SubjectAccessReview is asked about.
func decisionKey(user *authenticationv1.UserInfo, verb, path string) string {
	var b strings.Builder
	// NUL separates the parts: it is in no user name, group, verb or path.
	for _, s := range []string{verb, path, user.Username, user.UID} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	groups := slices.Sorted(slices.Values(user.Groups))
	b.WriteString(strings.Join(groups, "\x01"))
	keys := make([]string, 0, len(user.Extra))
	for k := range user.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(strings.Join(user.Extra[k], "\x01"))
	}
	return b.String()
}

func lookup[K comparable, V any](r *Reviewer, m map[K]cached[V], key K) (V, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := m[key]
	if !ok || !r.now().Before(c.expires) {
		var zero V
		return zero, false
	}
	return c.value, true
}

func store[K comparable, V any](r *Reviewer, m map[K]cached[V], key K, value V, ttl time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if len(m) >= maxCached {
		for k, c := range m {
			if !now.Before(c.expires) {
				delete(m, k)
			}
		}
		if len(m) >= maxCached {
			clear(m)
		}
	}
	m[key] = cached[V]{value: value, expires: now.Add(ttl)}
}

// retry calls f until it succeeds, up to four times, waiting 0.5, 0.75 and 1.1
// seconds between tries (the API server's webhook backoff, without its jitter),
// unless ctx ends first.
func retry(ctx context.Context, f func() error) error {
	wait := 500 * time.Millisecond
	for try := 1; ; try++ {
		err := f()
		if err == nil || try == 4 || !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait = wait * 3 / 2
	}
}

// transient reports whether a review may succeed when asked again: any failure but
// an answer of the API server refusing the request (a 4xx other than 429).
func transient(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true
	}
	code := status.Status().Code
	return code == http.StatusTooManyRequests || code >= 500 || code == 0
}
