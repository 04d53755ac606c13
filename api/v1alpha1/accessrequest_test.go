package v1alpha1_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// validRequest is alice's request for an hour of cluster admin; each case
// changes one thing.
func validRequest(requester string) *v1.AccessRequest {
	grant := validEntry().Spec
	grant.Tags = nil
	grant.AccessPolicies[0].PolicyARN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
	return &v1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "req-", Namespace: ns},
		Spec: v1.AccessRequestSpec{Requester: requester, Grant: grant,
			Duration: metav1.Duration{Duration: time.Hour}, Reason: "INC-1234: the ingress controller is down"},
	}
}

func approval(request *v1.AccessRequest, approver string, groups ...string) *v1.AccessApproval {
	return &v1.AccessApproval{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "ok-", Namespace: ns},
		Spec: v1.AccessApprovalSpec{Request: request.Name, RequestUID: string(request.UID), Decision: v1.Approve,
			Approver: approver, ApproverGroups: groups},
	}
}

// TestAccessRequestSchema: what a request may ask for, checked by the CRD's
// own rules whoever makes it (here the suite's administrator).
func TestAccessRequestSchema(t *testing.T) {
	testenv.RequireControlPlane(t)
	cases := []struct {
		name               string
		mutate             func(r *v1.AccessRequest)
		wantField, wantMsg string
	}{
		{name: "valid", mutate: func(r *v1.AccessRequest) {}},
		{"expiry set by the requester", func(r *v1.AccessRequest) { r.Spec.Grant.ExpiresAt = &metav1.Time{Time: time.Now().Add(time.Hour)} },
			"spec.grant", "expiresAt is set from spec.duration"},
		{"retained grant", func(r *v1.AccessRequest) { r.Spec.Grant.DeletionPolicy = v1.DeletionPolicyRetain },
			"spec.grant", "Retain cannot be requested"},
		{"node role", func(r *v1.AccessRequest) {
			r.Spec.Grant.Type, r.Spec.Grant.Username, r.Spec.Grant.KubernetesGroups, r.Spec.Grant.AccessPolicies = v1.TypeEC2Linux, "", nil, nil
		}, "spec.grant", "must be STANDARD"},
		{"grant's own rules apply", func(r *v1.AccessRequest) { r.Spec.Grant.PrincipalARN = "arn:aws:sts::111122223333:assumed-role/r/s" },
			"spec.grant.principalARN", "not an STS session"},
		{"zero duration", func(r *v1.AccessRequest) { r.Spec.Duration.Duration = 0 }, "spec.duration", "between 1m and 720h"},
		{"duration above 30 days", func(r *v1.AccessRequest) { r.Spec.Duration.Duration = 721 * time.Hour }, "spec.duration", "between 1m and 720h"},
		{"no reason", func(r *v1.AccessRequest) { r.Spec.Reason = "" }, "spec.reason", "at least 1 chars long"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := validRequest("alice")
			tc.mutate(r)
			err := k8s.Create(context.Background(), r)
			if tc.wantMsg == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantField) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("got %v, want an error naming %s and saying %q", err, tc.wantField, tc.wantMsg)
			}
		})
	}
}

// TestRequesterAndApproverAreWhoTheAPIServerSays: with config/default's
// admission policies installed, each person acts through the API server as
// themselves, with only the RBAC to create requests and approvals. A request or
// approval that names someone else, or claims a group its maker is not in, is
// refused by admission, whoever makes it (cluster administrators too); neither
// kind can be changed afterwards to name someone else.
func TestRequesterAndApproverAreWhoTheAPIServerSays(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	installRequestAdmission(t)
	alice := person(t, "alice", "developers")
	bob := person(t, "bob", "platform-oncall")

	// The policy takes effect a moment after it is created: wait for a forged
	// request to be refused.
	var forged error
	testenv.Eventually(t, 30*time.Second, "the request-identity policy refuses a forged requester", func() (bool, string) {
		r := validRequest("bob")
		if forged = alice.Create(ctx, r); forged == nil {
			_ = k8s.Delete(ctx, r)
			return false, "alice's request naming bob was accepted"
		}
		return true, ""
	})
	mustRefuse(t, "alice's request naming bob", forged, `spec.requester must be the user making the request`, `authenticated you as "alice"`)
	mustRefuse(t, "the administrator's request naming alice", k8s.Create(ctx, validRequest("alice")), `spec.requester must be the user making the request`)

	claims := validRequest("alice")
	claims.Spec.RequesterGroups = []string{"developers", "break-glass"}
	mustRefuse(t, "alice's request claiming a group she is not in", alice.Create(ctx, claims),
		"spec.requesterGroups may name only groups", "remove break-glass.")

	req := validRequest("alice")
	req.Spec.RequesterGroups = []string{"developers"}
	if err := alice.Create(ctx, req); err != nil {
		t.Fatalf("alice's own request: %v", err)
	}
	changed := req.DeepCopy()
	changed.Spec.Requester = "bob"
	mustRefuse(t, "alice's request changed to name bob", alice.Update(ctx, changed), "cannot be changed once made")
	changed = req.DeepCopy()
	changed.Spec.Duration.Duration = 24 * time.Hour
	mustRefuse(t, "alice's request lengthened", alice.Update(ctx, changed), "cannot be changed once made")

	mustRefuse(t, "bob's approval naming alice as approver", bob.Create(ctx, approval(req, "alice")),
		"spec.approver must be the user making the approval", `authenticated you as "bob"`)
	mustRefuse(t, "bob's approval claiming a group he is not in", bob.Create(ctx, approval(req, "bob", "platform-oncall", "cluster-admins")),
		"spec.approverGroups may name only groups", "remove cluster-admins.")
	ok := approval(req, "bob", "platform-oncall")
	if err := bob.Create(ctx, ok); err != nil {
		t.Fatalf("bob's own approval: %v", err)
	}
	changed2 := ok.DeepCopy()
	changed2.Spec.Decision = v1.Deny
	mustRefuse(t, "bob's approval changed", bob.Update(ctx, changed2), "cannot be changed once made")
}

func mustRefuse(t *testing.T, what string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s was accepted", what)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: refused with %q, want it to say %q", what, err, w)
		}
	}
}

// installRequestAdmission installs config/default's admission policies once.
func installRequestAdmission(t *testing.T) {
	t.Helper()
	admissionOnce.Do(func() {
		admissionErr = testenv.InstallAdmission(context.Background(), k8s, "system:serviceaccount:validation:operator")
	})
	if admissionErr != nil {
		t.Fatal(admissionErr)
	}
}

var (
	admissionOnce sync.Once
	admissionErr  error
)

// person is a client authenticated as user in groups, who may create, read,
// update and delete AccessRequests and AccessApprovals in the test's namespace.
func person(t *testing.T, user string, groups ...string) client.Client {
	t.Helper()
	ctx := context.Background()
	// update too: edits after creation are for the kinds' immutability to refuse, not RBAC.
	rules := []rbacv1.PolicyRule{{APIGroups: []string{"eksaccess.io"}, Resources: []string{"accessrequests", "accessapprovals"},
		Verbs: []string{"get", "list", "create", "update", "delete"}}}
	authn, err := testenv.Person{Name: user, Groups: groups, Rules: rules, Namespaces: []string{ns}}.Add(ctx, env, adminCfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(authn.Config(), client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, user+" may create requests", func() (bool, string) {
		err := c.List(ctx, &v1.AccessRequestList{}, client.InNamespace(ns))
		return err == nil, "listing as " + user + ": " + errString(err)
	})
	return c
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
