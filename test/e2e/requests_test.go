package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

const (
	requestNS   = "oncall"
	adminPolicy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
)

// TestRequestedGrantsExpireAcrossFailoverAndRestart: two grants made by
// approving requests, Alice asking and Bob of platform-oncall approving as
// themselves through the API server. The leader that made them is SIGKILLed
// shortly before the first expires: the standby takes the lease and revokes it
// within 60 s of its expiry. The standby is SIGKILLed in turn before the second
// expires, and a replica started only after that expiry (an operator
// restarted, with the dead leader's lease still to run out) revokes it within
// 60 s of its expiry. Each request ends Expired, its AccessEntry with Ready
// reason Expired, and EKS holds neither grant.
func TestRequestedGrantsExpireAcrossFailoverAndRestart(t *testing.T) {
	testenv.RequireControlPlane(t)
	w := replicaWorld(t, 0, "--instance-id=request-failover-test")
	ctx := context.Background()
	// The operator runs as the World's admin: the policies exempt it by that name.
	if err := testenv.InstallAdmission(ctx, w.Client, "admin"); err != nil {
		t.Fatal(err)
	}
	if err := w.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: requestNS}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Client.Create(ctx, &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: emuCluster}, Spec: v1.ClusterAccessConfigSpec{
		ClusterName: emuCluster, Region: emuRegion, Guardrails: v1.Guardrails{Rules: []v1.GrantRule{{
			Name: "oncall", Namespaces: v1.RuleNamespaces{Names: []string{requestNS}},
			Principals:     v1.RulePrincipals{Accounts: []string{emuAccount}},
			AccessPolicies: []v1.PolicyGrant{{PolicyARN: adminPolicy, ClusterScope: true}},
			TimeBound: &v1.TimeBoundGrants{MaxDuration: metav1.Duration{Duration: time.Hour}, Approvals: 1,
				Approvers: v1.Approvers{Groups: []string{"platform-oncall"}}}}}}}}); err != nil {
		t.Fatal(err)
	}
	alice := person(t, w, "alice", "developers")
	bob := person(t, w, "bob", "platform-oncall")
	first, second, secondLog := twoLeading(t, w)

	// Granted together by the first leader: the first for one minute, the second for two.
	var grants []*v1.AccessRequest
	for i, d := range []time.Duration{time.Minute, 2 * time.Minute} {
		ar := &v1.AccessRequest{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("incident-%d", i), Namespace: requestNS}, Spec: v1.AccessRequestSpec{
			Requester: "alice", Duration: metav1.Duration{Duration: d}, Reason: "INC-77",
			Grant: v1.AccessEntrySpec{ClusterName: emuCluster, Region: emuRegion, PrincipalARN: fmt.Sprintf("arn:aws:iam::%s:role/alice-admin-%d", emuAccount, i),
				AccessPolicies: []v1.AccessPolicy{{PolicyARN: adminPolicy, AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}}}}}}
		if err := alice.Create(ctx, ar); err != nil {
			t.Fatal(err)
		}
		waitPhase(t, w.Client, ar, v1.RequestPending, 30*time.Second)
		if err := bob.Create(ctx, &v1.AccessApproval{ObjectMeta: metav1.ObjectMeta{Name: ar.Name + "-bob", Namespace: requestNS}, Spec: v1.AccessApprovalSpec{
			Request: ar.Name, RequestUID: string(ar.UID), Decision: v1.Approve, Approver: "bob", ApproverGroups: []string{"platform-oncall"}}}); err != nil {
			t.Fatal(err)
		}
		grants = append(grants, ar)
	}
	for i, ar := range grants {
		grants[i] = waitPhase(t, w.Client, ar, v1.RequestGranted, 30*time.Second)
		waitCondition(t, w.Client, &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: ar.Name, Namespace: requestNS}}, v1.ConditionReady, v1.ReasonSynced)
		if _, ok := w.Emulator.Entry(emuAccount, emuRegion, emuCluster, ar.Spec.Grant.PrincipalARN); !ok {
			t.Fatalf("%s is Granted, and EKS holds no entry for %s", ar.Name, ar.Spec.Grant.PrincipalARN)
		}
	}
	one, two := grants[0].Status.ExpiresAt.Time, grants[1].Status.ExpiresAt.Time

	// Failover: the leader dies 5 s before the first expiry.
	time.Sleep(time.Until(one.Add(-5 * time.Second)))
	first.Kill()
	waitLog(t, secondLog, acquired, 2*takeoverBound)
	waitRevoked(t, w, grants[0], one)
	if time.Until(two) < 5*time.Second {
		t.Fatalf("the standby revoked the first grant %s after its expiry, too late to die before the second's", time.Since(one))
	}

	// Restart: nobody runs at the second expiry; a new replica starts after it.
	second.Kill()
	time.Sleep(time.Until(two.Add(2 * time.Second)))
	if _, ok := w.Emulator.Entry(emuAccount, emuRegion, emuCluster, grants[1].Spec.Grant.PrincipalARN); !ok {
		t.Fatal("the second grant was revoked while no operator ran")
	}
	third, thirdLog, err := w.StartReplica("c")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(third.Stop)
	waitLog(t, thirdLog, acquired, 2*takeoverBound)
	waitRevoked(t, w, grants[1], two)
}

// waitRevoked waits until EKS no longer holds the request's grant, at most 60 s
// after its expiry, and the request and its AccessEntry say it expired.
func waitRevoked(t *testing.T, w *testenv.World, ar *v1.AccessRequest, expiry time.Time) {
	t.Helper()
	principal := ar.Spec.Grant.PrincipalARN
	testenv.Eventually(t, time.Until(expiry.Add(60*time.Second)), ar.Name+"'s grant revoked within 60 s of its expiry", func() (bool, string) {
		_, ok := w.Emulator.Entry(emuAccount, emuRegion, emuCluster, principal)
		return !ok, "EKS still holds " + principal
	})
	t.Logf("%s revoked %s after its expiry", ar.Name, time.Since(expiry).Round(100*time.Millisecond))
	waitPhase(t, w.Client, ar, v1.RequestExpired, 30*time.Second)
	waitCondition(t, w.Client, &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: ar.Name, Namespace: requestNS}}, v1.ConditionReady, v1.ReasonExpired)
}

// waitPhase waits until the request is in phase, and returns it.
func waitPhase(t *testing.T, c client.Client, ar *v1.AccessRequest, phase v1.RequestPhase, timeout time.Duration) *v1.AccessRequest {
	t.Helper()
	got := &v1.AccessRequest{}
	testenv.Eventually(t, timeout, ar.Name+" "+string(phase), func() (bool, string) {
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(ar), got); err != nil {
			return false, err.Error()
		}
		msg := ""
		if r := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady); r != nil {
			msg = r.Message
		}
		return got.Status.Phase == phase, string(got.Status.Phase) + ": " + msg
	})
	return got
}

// person is a client authenticated as user in groups, who may ask for and
// approve access in requestNS.
func person(t *testing.T, w *testenv.World, user string, groups ...string) client.Client {
	t.Helper()
	u, err := testenv.Person{Name: user, Groups: groups, Rules: testenv.RequesterRules, Namespaces: []string{requestNS}}.Add(context.Background(), w.Env, w.Config)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(u.Config(), client.Options{Scheme: w.Client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
