package requests

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

var t0 = time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)

func request() *v1.AccessRequest {
	return &v1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "fix-ingress", UID: types.UID("uid-1"), CreationTimestamp: metav1.NewTime(t0)},
		Spec:       v1.AccessRequestSpec{Requester: "alice", RequesterGroups: []string{"developers"}, Duration: metav1.Duration{Duration: 2 * time.Hour}, Reason: "INC-1"},
	}
}

func rule(approvals int32) *v1.TimeBoundGrants {
	return &v1.TimeBoundGrants{MaxDuration: metav1.Duration{Duration: 4 * time.Hour}, Approvals: approvals,
		Approvers: v1.Approvers{Users: []string{"carol"}, Groups: []string{"platform-oncall"}}}
}

func ok(name, approver string, after time.Duration, groups ...string) Approval {
	return Approval{Name: name, RequestUID: "uid-1", Decision: v1.Approve, Approver: approver, Groups: groups, At: t0.Add(after)}
}

func TestDecide(t *testing.T) {
	withUID := func(a Approval, uid string) Approval { a.RequestUID = uid; return a }
	deny := func(a Approval) Approval { a.Decision = v1.Deny; return a }
	cases := []struct {
		name      string
		approvals int32
		mutate    func(*v1.AccessRequest, *v1.TimeBoundGrants)
		given     []Approval
		at        time.Duration
		want      v1.RequestPhase
		counted   int
		say       string
	}{
		{name: "no approval yet", approvals: 1, at: time.Minute, want: v1.RequestPending, say: "0 of 1"},
		{name: "approved by a group the rule names", approvals: 1, given: []Approval{ok("a1", "bob", time.Minute, "platform-oncall")},
			at: 2 * time.Minute, want: v1.RequestGranted, counted: 1, say: "approved by bob"},
		{name: "approved by a user the rule names", approvals: 1, given: []Approval{ok("a1", "carol", time.Minute)},
			at: 2 * time.Minute, want: v1.RequestGranted, counted: 1},
		{name: "self-approval", approvals: 1, given: []Approval{ok("a1", "alice", time.Minute, "platform-oncall")},
			at: 2 * time.Minute, want: v1.RequestPending, say: "0 of 1"},
		{name: "someone the rule does not name", approvals: 1, given: []Approval{ok("a1", "mallory", time.Minute, "developers")},
			at: 2 * time.Minute, want: v1.RequestPending},
		{name: "an approval of an earlier request of the same name", approvals: 1,
			given: []Approval{withUID(ok("a1", "bob", time.Minute, "platform-oncall"), "uid-0")}, at: 2 * time.Minute, want: v1.RequestPending},
		{name: "the same approver twice counts once", approvals: 2,
			given: []Approval{ok("a1", "bob", time.Minute, "platform-oncall"), ok("a2", "bob", 2*time.Minute, "platform-oncall")},
			at:    3 * time.Minute, want: v1.RequestPending, counted: 1, say: "1 of 2"},
		{name: "two approvers", approvals: 2,
			given: []Approval{ok("a1", "bob", time.Minute, "platform-oncall"), ok("a2", "carol", 2*time.Minute)},
			at:    3 * time.Minute, want: v1.RequestGranted, counted: 2, say: "approved by bob, carol"},
		{name: "denied by an approver", approvals: 2,
			given: []Approval{ok("a1", "bob", time.Minute, "platform-oncall"), deny(ok("a2", "carol", 2*time.Minute))},
			at:    3 * time.Minute, want: v1.RequestDenied, counted: 1, say: "denied by carol"},
		{name: "a denial by someone the rule does not name", approvals: 1,
			given: []Approval{deny(ok("a1", "mallory", time.Minute)), ok("a2", "bob", 2*time.Minute, "platform-oncall")},
			at:    3 * time.Minute, want: v1.RequestGranted, counted: 1},
		{name: "expired unapproved", approvals: 1, at: 25 * time.Hour, want: v1.RequestExpired, say: "0 of 1 approvals within 24h"},
		{name: "an approval after the request expired", approvals: 1, given: []Approval{ok("a1", "bob", 25*time.Hour, "platform-oncall")},
			at: 26 * time.Hour, want: v1.RequestExpired},
		{name: "longer than the rule allows", approvals: 1, mutate: func(r *v1.AccessRequest, _ *v1.TimeBoundGrants) { r.Spec.Duration.Duration = 5 * time.Hour },
			given: []Approval{ok("a1", "bob", time.Minute, "platform-oncall")}, at: 2 * time.Minute, want: v1.RequestRefused, say: "maxDuration 4h0m0s"},
		{name: "break glass by group", approvals: 1, mutate: func(_ *v1.AccessRequest, tb *v1.TimeBoundGrants) {
			tb.BreakGlass = &v1.Approvers{Groups: []string{"developers"}}
		}, at: time.Second, want: v1.RequestGranted, say: "break glass"},
		{name: "break glass is not for others", approvals: 1, mutate: func(_ *v1.AccessRequest, tb *v1.TimeBoundGrants) {
			tb.BreakGlass = &v1.Approvers{Users: []string{"carol"}}
		}, at: time.Second, want: v1.RequestPending},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, tb := request(), rule(tc.approvals)
			if tc.mutate != nil {
				tc.mutate(r, tb)
			}
			d := Decide(r, "oncall", tb, tc.given, t0.Add(tc.at))
			if d.Phase != tc.want || len(d.Counted) != tc.counted || !strings.Contains(d.Message, tc.say) {
				t.Fatalf("phase %s, %d counted, %q (ignored %v); want %s, %d counted, saying %q", d.Phase, len(d.Counted), d.Message, d.Ignored, tc.want, tc.counted, tc.say)
			}
		})
	}
}

// TestDeniedWhileGranted: a grant ends at a denial by one of the rule's
// approvers, made for it before it expires; pendingFor does not bound a
// grant's denials, and nobody else's denial ends it.
func TestDeniedWhileGranted(t *testing.T) {
	deny := func(name, approver string, after time.Duration, groups ...string) Approval {
		a := ok(name, approver, after, groups...)
		a.Decision = v1.Deny
		return a
	}
	granted := func() *v1.AccessRequest {
		r := request()
		r.Status.Phase, r.Status.GrantedAt = v1.RequestGranted, &metav1.Time{Time: t0.Add(time.Minute)}
		r.Status.ExpiresAt = &metav1.Time{Time: t0.Add(time.Minute + r.Spec.Duration.Duration)}
		r.Status.Approvals = []v1.Decision{{Approval: "a1", Approver: "bob"}}
		return r
	}
	// pendingFor of ten minutes: a denial an hour into the grant still ends it.
	tb := rule(1)
	tb.PendingFor = &metav1.Duration{Duration: 10 * time.Minute}
	cases := []struct {
		name  string
		given []Approval
		ends  bool
	}{
		{name: "no denial", given: []Approval{ok("a1", "bob", time.Minute, "platform-oncall")}},
		{name: "an approver denies during the grant", given: []Approval{ok("a1", "bob", time.Minute, "platform-oncall"), deny("d1", "carol", time.Hour)}, ends: true},
		{name: "the requester denies", given: []Approval{deny("d1", "alice", time.Hour, "platform-oncall")}},
		{name: "someone the rule does not name denies", given: []Approval{deny("d1", "mallory", time.Hour, "developers")}},
		{name: "a denial of an earlier request of the same name", given: []Approval{func() Approval { a := deny("d1", "carol", time.Hour); a.RequestUID = "uid-0"; return a }()}},
		{name: "a denial after the grant expired", given: []Approval{deny("d1", "carol", 3*time.Hour)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, ends := DeniedWhileGranted(granted(), tb, tc.given)
			if ends != tc.ends {
				t.Fatalf("ends %v (%s: %q), want %v", ends, d.Phase, d.Message, tc.ends)
			}
			if ends && (d.Phase != v1.RequestDenied || !strings.Contains(d.Message, "denied by carol after the grant") || len(d.Counted) != 2) {
				t.Fatalf("%s %q, counted %+v", d.Phase, d.Message, d.Counted)
			}
		})
	}
}

func TestNewRequestPolicies(t *testing.T) {
	who := Who{User: "alice@example.com", Groups: []string{"developers"}}
	ar, err := NewRequest(Ask{Namespace: "team", Cluster: "prod", Principal: "arn:aws:iam::111122223333:role/alice", Duration: time.Hour, Reason: "INC-1",
		Policies: []string{"AmazonEKSClusterAdminPolicy", "AmazonEKSEditPolicy:team-a,team-b",
			"arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy:dev"}}, who)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ar.Spec.Grant.AccessPolicies {
		got = append(got, p.PolicyARN+" "+string(p.AccessScope.Type)+" "+fmt.Sprint(p.AccessScope.Namespaces))
	}
	want := []string{
		"arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy cluster []",
		"arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy namespace [team-a team-b]",
		"arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSViewPolicy cluster []",
		"arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy namespace [dev]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("policies:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ar.Spec.Requester != "alice@example.com" || ar.GenerateName != "alice-" || ar.Spec.RequesterGroups[0] != "developers" {
		t.Fatalf("requester %q, groups %v, generateName %q", ar.Spec.Requester, ar.Spec.RequesterGroups, ar.GenerateName)
	}
	if _, err := NewRequest(Ask{Cluster: "prod", Principal: "p", Duration: time.Hour, Reason: "r", Policies: []string{"no such/policy"}}, who); err == nil {
		t.Fatal("a policy that is neither a name nor an ARN was taken")
	}
}
