package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

const requestNS = "req-team"

// oncallRule lets requestNS ask for ClusterAdmin on the cluster for at most
// two hours, approved by one member of platform-oncall.
func oncallRule() v1.GrantRule {
	return v1.GrantRule{Name: "oncall", Namespaces: v1.RuleNamespaces{Names: []string{requestNS}},
		Principals:     v1.RulePrincipals{Accounts: []string{account}},
		AccessPolicies: []v1.PolicyGrant{{PolicyARN: adminPolicy, ClusterScope: true}},
		TimeBound: &v1.TimeBoundGrants{MaxDuration: metav1.Duration{Duration: 2 * time.Hour}, Approvals: 1,
			Approvers: v1.Approvers{Groups: []string{"platform-oncall"}}}}
}

// requestPerson is a client authenticated as user in groups, who may make
// AccessRequests and AccessApprovals in requestNS and manage its AccessEntries
// as a tenant does.
func requestPerson(t *testing.T, user string, groups ...string) client.Client {
	t.Helper()
	ctx := context.Background()
	authn, err := testenv.Person{Name: user, Groups: groups, Rules: testenv.RequesterRules, Namespaces: []string{requestNS}}.Add(ctx, suiteEnv, restCfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(authn.Config(), client.Options{Scheme: newScheme()})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, user+" may list requests", func() (bool, string) {
		err := c.List(ctx, &v1.AccessRequestList{}, client.InNamespace(requestNS))
		return err == nil, errString(err)
	})
	return c
}

func waitRequest(t *testing.T, c client.Client, ar *v1.AccessRequest, timeout time.Duration, phase v1.RequestPhase) *v1.AccessRequest {
	t.Helper()
	cur := &v1.AccessRequest{}
	eventually(t, timeout, ar.Name+" to be "+string(phase), func() (bool, string) {
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(ar), cur); err != nil {
			return false, err.Error()
		}
		msg := ""
		if r := meta.FindStatusCondition(cur.Status.Conditions, v1.ConditionReady); r != nil {
			msg = r.Message
		}
		return cur.Status.Phase == phase, string(cur.Status.Phase) + ": " + msg
	})
	return cur
}

// TestAccessRequestGrantedAndRevoked: people acting as themselves through the
// API server. Alice asks for ClusterAdmin; her own approval, and one by a user
// the rule does not name, count for nothing; Bob of platform-oncall approves,
// and the grant is made in EKS until the request's duration has passed, then
// revoked. Meanwhile a standing AccessEntry asking for the same is refused, so
// are requests for a principal the platform holds and for longer than the
// rule's maximum, and the grant, edited by a tenant, is put back.
func TestAccessRequestGrantedAndRevoked(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: requestNS}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	createConfig(t, &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: "requests"}, Spec: v1.ClusterAccessConfigSpec{
		ClusterName: "requests", Guardrails: v1.Guardrails{Rules: []v1.GrantRule{oncallRule()}},
		UnmanagedEntries: v1.UnmanagedEntries{Protect: []string{roleARN("break-glass")}}}})
	waitConfig(t, "requests", 30*time.Second, "to read the cluster", func(c *v1.ClusterAccessConfig) bool { return configReady(c) && c.Status.AccountID != "" })
	// Alice is on call herself: only the rule against self-approval keeps her
	// own approval from counting.
	alice := requestPerson(t, "alice", "developers", "platform-oncall")
	bob := requestPerson(t, "bob", "platform-oncall")
	mallory := requestPerson(t, "mallory", "developers")

	principal := roleARN("alice-admin")
	ar := &v1.AccessRequest{ObjectMeta: metav1.ObjectMeta{Name: "fix-ingress", Namespace: requestNS}, Spec: v1.AccessRequestSpec{
		Requester: "alice", Duration: metav1.Duration{Duration: time.Minute}, Reason: "INC-1234",
		Grant: v1.AccessEntrySpec{ClusterName: "requests", PrincipalARN: principal, AccessPolicies: []v1.AccessPolicy{policy(adminPolicy)}}}}
	if err := alice.Create(ctx, ar); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), ar); cleanupEntry(t, "requests", principal) })
	waitRequest(t, alice, ar, 30*time.Second, v1.RequestPending)

	approve := func(c client.Client, name, approver string, groups ...string) {
		t.Helper()
		a := &v1.AccessApproval{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: requestNS}, Spec: v1.AccessApprovalSpec{
			Request: ar.Name, RequestUID: string(ar.UID), Decision: v1.Approve, Approver: approver, ApproverGroups: groups}}
		if err := c.Create(ctx, a); err != nil {
			t.Fatalf("%s's approval: %v", approver, err)
		}
	}
	approve(alice, "self", "alice", "platform-oncall")
	approve(mallory, "stranger", "mallory", "developers")
	time.Sleep(3 * time.Second)
	if cur := waitRequest(t, alice, ar, 5*time.Second, v1.RequestPending); len(cur.Status.Approvals) != 0 {
		t.Fatalf("approvals counted by the requester and by a user the rule does not name: %+v", cur.Status.Approvals)
	}
	if _, ok := emuEntry("requests", principal); ok {
		t.Fatal("EKS holds the grant before anyone the rule names approved it")
	}

	approve(bob, "oncall", "bob", "platform-oncall")
	granted := waitRequest(t, alice, ar, 30*time.Second, v1.RequestGranted)
	if len(granted.Status.Approvals) != 1 || granted.Status.Approvals[0].Approver != "bob" || granted.Status.ExpiresAt == nil {
		t.Fatalf("granted with approvals %+v, expiring %v", granted.Status.Approvals, granted.Status.ExpiresAt)
	}
	grant := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: ar.Name, Namespace: requestNS}}
	waitReady(t, grant, 30*time.Second)
	wantPolicies(t, mustEmuEntry(t, "requests", principal), map[string]string{adminPolicy: "cluster:"})

	t.Run("a standing AccessEntry for the same access is refused", func(t *testing.T) {
		standing := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: "standing-admin", Namespace: requestNS}, Spec: v1.AccessEntrySpec{
			ClusterName: "requests", PrincipalARN: roleARN("alice-standing"), AccessPolicies: []v1.AccessPolicy{policy(adminPolicy)}}}
		if err := alice.Create(ctx, standing); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), standing) })
		got := waitReason(t, standing, v1.ReasonNotPermitted, 30*time.Second)
		if msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message; !strings.Contains(msg, "allows only time-bound grants") {
			t.Fatalf("refused with %q", msg)
		}
		if _, ok := emuEntry("requests", roleARN("alice-standing")); ok {
			t.Fatal("EKS holds the standing ClusterAdmin entry")
		}
	})

	t.Run("a principal reserved for the platform is refused before anyone approves", func(t *testing.T) {
		declared := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: "platform-admin", Namespace: testNS}, Spec: v1.AccessEntrySpec{
			ClusterName: "requests", PrincipalARN: roleARN("platform-admin"), AccessPolicies: []v1.AccessPolicy{policy(adminPolicy)}}}
		if err := k8s.Create(ctx, declared); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteAndWait(t, client.ObjectKeyFromObject(declared)) })
		waitReady(t, declared, 30*time.Second)
		for _, p := range []string{"break-glass", "platform-admin"} {
			r := &v1.AccessRequest{ObjectMeta: metav1.ObjectMeta{Name: "claim-" + p, Namespace: requestNS}, Spec: v1.AccessRequestSpec{
				Requester: "alice", Duration: metav1.Duration{Duration: time.Hour}, Reason: "INC-1235",
				Grant: v1.AccessEntrySpec{ClusterName: "requests", PrincipalARN: roleARN(p), AccessPolicies: []v1.AccessPolicy{policy(adminPolicy)}}}}
			if err := alice.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = k8s.Delete(context.Background(), r) })
			got := waitRequest(t, alice, r, 30*time.Second, v1.RequestRefused)
			if msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message; !strings.Contains(msg, "reserved for the platform team") {
				t.Errorf("%s: refused with %q", p, msg)
			}
		}
	})

	t.Run("a request longer than the rule's maximum is refused", func(t *testing.T) {
		long := &v1.AccessRequest{ObjectMeta: metav1.ObjectMeta{Name: "too-long", Namespace: requestNS}, Spec: v1.AccessRequestSpec{
			Requester: "alice", Duration: metav1.Duration{Duration: 3 * time.Hour}, Reason: "INC-1236",
			Grant: v1.AccessEntrySpec{ClusterName: "requests", PrincipalARN: roleARN("alice-long"), AccessPolicies: []v1.AccessPolicy{policy(adminPolicy)}}}}
		if err := alice.Create(ctx, long); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), long) })
		got := waitRequest(t, alice, long, 30*time.Second, v1.RequestRefused)
		if msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message; !strings.Contains(msg, "spec.duration 3h0m0s") || !strings.Contains(msg, "maxDuration 2h0m0s") {
			t.Errorf("refused with %q", msg)
		}
	})

	t.Run("a tenant's later expiresAt and adopt annotation on the grant are put back", func(t *testing.T) {
		cur := &v1.AccessEntry{}
		if err := alice.Get(ctx, client.ObjectKeyFromObject(grant), cur); err != nil {
			t.Fatal(err)
		}
		cur.Spec.ExpiresAt = &metav1.Time{Time: cur.Spec.ExpiresAt.Add(24 * time.Hour)}
		metav1.SetMetaDataAnnotation(&cur.ObjectMeta, v1.AdoptAnnotation, "true")
		if err := alice.Update(ctx, cur); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "the grant's expiry put back, and adopt taken off", func() (bool, string) {
			got := get(t, client.ObjectKeyFromObject(grant))
			return got.Spec.ExpiresAt.Equal(granted.Status.ExpiresAt) && got.Annotations[v1.AdoptAnnotation] == "",
				got.Spec.ExpiresAt.String() + " adopt=" + got.Annotations[v1.AdoptAnnotation]
		})
	})

	t.Run("a grant ends at once when its request is withdrawn, or denied by an approver", func(t *testing.T) {
		grantNow := func(name string, finalizers ...string) *v1.AccessRequest {
			t.Helper()
			r := &v1.AccessRequest{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: requestNS, Finalizers: finalizers}, Spec: v1.AccessRequestSpec{
				Requester: "alice", Duration: metav1.Duration{Duration: time.Hour}, Reason: "INC-1237",
				Grant: v1.AccessEntrySpec{ClusterName: "requests", PrincipalARN: roleARN("alice-" + name), AccessPolicies: []v1.AccessPolicy{policy(adminPolicy)}}}}
			if err := alice.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = k8s.Patch(context.Background(), r, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
				_ = k8s.Delete(context.Background(), r)
				deleteAndWait(t, client.ObjectKey{Namespace: requestNS, Name: name})
			})
			waitRequest(t, alice, r, 30*time.Second, v1.RequestPending)
			if err := bob.Create(ctx, &v1.AccessApproval{ObjectMeta: metav1.ObjectMeta{Name: name + "-yes", Namespace: requestNS}, Spec: v1.AccessApprovalSpec{
				Request: r.Name, RequestUID: string(r.UID), Decision: v1.Approve, Approver: "bob", ApproverGroups: []string{"platform-oncall"}}}); err != nil {
				t.Fatal(err)
			}
			waitRequest(t, alice, r, 30*time.Second, v1.RequestGranted)
			eventually(t, 30*time.Second, name+"'s grant in EKS", func() (bool, string) {
				_, ok := emuEntry("requests", roleARN("alice-"+name))
				return ok, "EKS holds no entry yet"
			})
			return r
		}
		gone := func(name string) {
			t.Helper()
			eventually(t, 30*time.Second, name+"'s grant revoked in EKS", func() (bool, string) {
				_, ok := emuEntry("requests", roleARN("alice-"+name))
				return !ok, "EKS still holds it"
			})
		}

		// A finalizer of the requester's keeps the request from going: its grant goes all the same.
		held := grantNow("held", "example.com/hold")
		if err := alice.Delete(ctx, held); err != nil {
			t.Fatal(err)
		}
		waitRequest(t, alice, held, 30*time.Second, v1.RequestWithdrawn)
		gone("held")

		denied := grantNow("denied")
		for _, d := range []struct {
			c   client.Client
			who string
			in  string
		}{{mallory, "mallory", "developers"}, {alice, "alice", "platform-oncall"}, {bob, "bob", "platform-oncall"}} {
			if err := d.c.Create(ctx, &v1.AccessApproval{ObjectMeta: metav1.ObjectMeta{Name: "denied-no-" + d.who, Namespace: requestNS}, Spec: v1.AccessApprovalSpec{
				Request: denied.Name, RequestUID: string(denied.UID), Decision: v1.Deny, Approver: d.who, ApproverGroups: []string{d.in}}}); err != nil {
				t.Fatal(err)
			}
			if d.who != "bob" {
				time.Sleep(2 * time.Second)
				waitRequest(t, alice, denied, time.Second, v1.RequestGranted) // a denial that does not count changes nothing
			}
		}
		if got := waitRequest(t, alice, denied, 30*time.Second, v1.RequestDenied); !strings.Contains(meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message, "denied by bob after the grant") {
			t.Errorf("denied with %q", meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message)
		}
		gone("denied")
	})

	expired := waitRequest(t, alice, ar, 90*time.Second, v1.RequestExpired)
	eventually(t, 30*time.Second, "the grant revoked in EKS", func() (bool, string) {
		_, ok := emuEntry("requests", principal)
		return !ok, "EKS still holds it"
	})
	if late := time.Since(expired.Status.ExpiresAt.Time); late > 60*time.Second {
		t.Errorf("revoked %s after expiry", late)
	}
}
