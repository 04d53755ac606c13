package controllers

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/budget"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// TestFairTurnsPerNamespace: a namespace with a thousand objects waiting for
// the account's budget does not hold up another namespace's object on the same
// cluster: the budget serves their turns alternately (flowOf).
func TestFairTurnsPerNamespace(t *testing.T) {
	s := budget.New(budget.Options{QPS: 2000, Burst: 1})
	key := budget.Key{Account: account, Region: region}
	var mu sync.Mutex
	var order []string
	req := func(ns, name string) budget.Request {
		p := &entryPass{ae: &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}, id: v1.EntryIdentity{ClusterName: "prod"}}
		return budget.Request{Key: key, ID: ns + "/" + name, Flow: flowOf(p), Class: budget.Foreground, Tokens: 1, Ready: func() {
			mu.Lock()
			order = append(order, ns)
			mu.Unlock()
		}}
	}
	for i := range 1000 {
		s.Take(req("noisy", fmt.Sprint(i)))
	}
	s.Take(req("quiet", "new"))
	stop := make(chan struct{})
	go s.Run(stop)
	defer close(stop)
	eventually(t, 10*time.Second, "the quiet namespace's turn", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(order, "quiet"), fmt.Sprintf("%d granted", len(order))
	})
	mu.Lock()
	defer mu.Unlock()
	if i := slices.Index(order, "quiet"); i > 2 {
		t.Fatalf("the quiet namespace was granted after %d of the noisy one's requests", i)
	}
}

// TestVerifyAnnotationOncePerInterval: eksaccess.io/verify is honoured at once,
// and a new value written right after is not, until verifyEvery has passed: a
// tenant rewriting the annotation at any rate gets one read a minute.
func TestVerifyAnnotationOncePerInterval(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	ae := entry("verify-once", roleARN("verify-once"))
	create(t, ae)
	waitReady(t, ae, 30*time.Second)
	annotate := func(value string) {
		t.Helper()
		cur := get(t, client.ObjectKeyFromObject(ae))
		before := cur.DeepCopy()
		cur.Annotations = map[string]string{v1.VerifyAnnotation: value}
		if err := k8s.Patch(ctx, cur, client.MergeFrom(before)); err != nil {
			t.Fatal(err)
		}
	}
	annotate("1")
	eventually(t, 10*time.Second, "the first verify to be handled", func() (bool, string) {
		cur := get(t, client.ObjectKeyFromObject(ae))
		return cur.Status.LastHandledVerify == "1", cur.Status.LastHandledVerify
	})
	reads := calls("DescribeAccessEntry")
	for i := 2; i <= 5; i++ {
		annotate(fmt.Sprint(i))
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	if cur := get(t, client.ObjectKeyFromObject(ae)); cur.Status.LastHandledVerify != "1" {
		t.Errorf("a verify written within %s of the last was handled: %q", verifyEvery, cur.Status.LastHandledVerify)
	}
	if n := calls("DescribeAccessEntry") - reads; n > 0 {
		t.Errorf("%d reads for verifies written within %s of the last", n, verifyEvery)
	}
}

// TestRefusalWaitingForItsTurnIsNotFinal: a refused object whose entry is still to
// be revoked, with no turn in its account's budget yet, says NotPermitted while
// Reconciling, not Stalled: its next pass (the one the budget starts) is then
// not a background recheck behind everything else, and nothing reading the
// status takes the refusal for done while EKS still holds the grant.
//
// Its class: a refusal from outside the spec (the rule changed under an object
// whose spec was handled) is revocation work, ahead of all other; one the
// tenant's own new spec brings is foreground, in its namespace's turn; a recheck
// of the refusal it is stalled on is background.
func TestRefusalWaitingForItsTurnIsNotFinal(t *testing.T) {
	r := &AccessEntryReconciler{Deps: Deps{AWS: testClients(awsConfig(), "http://127.0.0.1:1", &budget.Options{QPS: 0.001, Burst: 2})}}
	r.StallAfter = time.Minute
	target := awsapi.Target{Region: region}
	key := awsapi.BudgetKey(target)
	if g, _ := r.AWS.Budget().Take(budget.Request{Key: key, ID: "another", Flow: "prod/other", Class: budget.Foreground, Tokens: 2, Ready: func() {}}); g == nil {
		t.Fatal("the budget did not grant its burst to the first request")
	}
	id := v1.EntryIdentity{ClusterName: "prod", Region: region, Account: account, Partition: "aws", PrincipalARN: roleARN("turn"), Type: "STANDARD"}
	ae := entry("turn", id.PrincipalARN)
	ae.Generation, ae.Status.Identity = 1, &id
	accessEntryConditions(ae).ready("the EKS access entry matches the spec")
	refuse := func(msg string) (*entryPass, error) {
		p := &entryPass{ae: ae, id: id, target: target}
		return p, r.revoke(context.Background(), p, guardrailRefusal{enforcement: v1.EnforcementRevoke, msg: msg})
	}

	p, err := refuse("no rule admits it")
	if _, cerr := r.ending(ae, false).conclude(err); cerr != nil {
		t.Fatalf("conclude: %v", cerr)
	}
	if p.class() != budget.Revocation {
		t.Errorf("a Ready object refused at its generation (the rule changed): %s work, want revocation", p.class())
	}
	if got := readyReason(ae); got != v1.ReasonNotPermitted {
		t.Errorf("Ready reason %q, want %s; conditions: %s", got, v1.ReasonNotPermitted, conditions(ae))
	}
	if !meta.IsStatusConditionTrue(ae.Status.Conditions, v1.ConditionReconciling) || stalledAtGeneration(ae) {
		t.Errorf("a refusal whose revocation is still to come must be Reconciling, not Stalled; conditions: %s", conditions(ae))
	}
	// The pass the budget starts when the turn comes is still revocation work.
	if p, _ = refuse("no rule admits it"); p.class() != budget.Revocation {
		t.Errorf("the revoking pass after a turn was asked for is %s work, want revocation", p.class())
	}
	// Once revoked and Stalled, a pass for the same refusal is a recheck
	// (background); one for a new refusal (a narrowed rule) may have more to
	// revoke, and is revocation work.
	accessEntryConditions(ae).stalled(v1.ReasonNotPermitted, "no rule admits it; revoked: access policy AmazonEKSEditPolicy")
	for msg, want := range map[string]budget.Class{"no rule admits it": budget.Background, "the rule no longer allows AmazonEKSViewPolicy": budget.Revocation} {
		if p, _ = refuse(msg); p.class() != want {
			t.Errorf("refused (%q) while Stalled on the first refusal: %s work, want %s", msg, p.class(), want)
		}
	}
	// A refusal the tenant's new spec brings waits its namespace's turn: a
	// tenant cannot jump the queue by flipping its spec.
	ae.Generation = 2
	if p, _ = refuse("spec.kubernetesGroups system:masters is not allowed"); p.class() != budget.Foreground {
		t.Errorf("a refusal of a new spec: %s work, want foreground", p.class())
	}
	// Unless the rule changed too since the object was last judged.
	p = &entryPass{ae: ae, id: id, target: target, ruleChanged: true}
	_ = r.revoke(context.Background(), p, guardrailRefusal{enforcement: v1.EnforcementRevoke, msg: "the rule no longer allows AmazonEKSEditPolicy"})
	if p.class() != budget.Revocation {
		t.Errorf("a refusal of a new spec under a changed rule: %s work, want revocation", p.class())
	}
}

// TestRuleChangesReachRefusedObjectsUnderChurn: while one tenant rewrites its
// objects' specs without pause, keeping foreground work waiting for the
// account's budget all the time, the platform narrows another namespace's rule
// and widens it again. The refused object's grant comes back within a bound:
// an object the guardrails allow again is new work, not a recheck that waits
// for every other namespace to go quiet.
func TestRuleChangesReachRefusedObjectsUnderChurn(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	tenant := tenantClient(t)
	cluster := "churn"
	zRule := func(clusterScope bool) v1.GrantRule {
		return v1.GrantRule{Name: "z", Namespaces: v1.RuleNamespaces{Names: []string{strangerNS}}, Principals: v1.RulePrincipals{Accounts: []string{account}},
			AccessPolicies: []v1.PolicyGrant{{PolicyARN: viewPolicy, ClusterScope: clusterScope, Namespaces: []v1.NamespacePattern{"{{namespace}}"}}}}
	}
	createConfig(t, &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cluster}, Spec: v1.ClusterAccessConfigSpec{
		ClusterName: cluster, Guardrails: v1.Guardrails{Rules: []v1.GrantRule{tenancyRule(), zRule(true)}}}})
	waitConfig(t, cluster, 30*time.Second, "to read the cluster", func(c *v1.ClusterAccessConfig) bool { return configReady(c) && c.Status.AccountID != "" })

	var churners []*v1.AccessEntry
	for i := range 12 {
		ae := entry(fmt.Sprintf("churn-%02d", i), roleARN(fmt.Sprintf("churn-%02d", i)), func(ae *v1.AccessEntry) {
			ae.Namespace, ae.Spec.ClusterName, ae.Spec.KubernetesGroups = tenantNS, cluster, []v1.KubernetesGroup{tenantNS + "-0"}
		})
		if err := tenant.Create(ctx, ae); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteAndWait(t, client.ObjectKeyFromObject(ae)) })
		churners = append(churners, ae)
	}
	victim := entry("churn-victim", roleARN("churn-victim"), func(ae *v1.AccessEntry) {
		ae.Namespace, ae.Spec.ClusterName = strangerNS, cluster
		ae.Spec.AccessPolicies = []v1.AccessPolicy{{PolicyARN: viewPolicy, AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}}}
	})
	if err := tenant.Create(ctx, victim); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, client.ObjectKeyFromObject(victim)) })
	for _, ae := range append(churners, victim) {
		waitReady(t, ae, 60*time.Second)
	}

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := 1; ; n++ {
			for _, ae := range churners {
				select {
				case <-stop:
					return
				default:
				}
				cur := &v1.AccessEntry{}
				if tenant.Get(ctx, client.ObjectKeyFromObject(ae), cur) == nil {
					cur.Spec.KubernetesGroups = []v1.KubernetesGroup{v1.KubernetesGroup(fmt.Sprintf("%s-%d", tenantNS, n%2))}
					_ = tenant.Update(ctx, cur)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	time.Sleep(3 * time.Second) // the churn has the budget's foreground queue full

	setRules(t, cluster, v1.EnforcementRevoke, tenancyRule(), zRule(false))
	eventually(t, 30*time.Second, "the narrowed rule to revoke the victim's cluster-wide View", func() (bool, string) {
		e, ok := emuEntry(cluster, victim.Spec.PrincipalARN)
		return ok && len(e.Policies) == 0, fmt.Sprintf("%+v", e.Policies)
	})
	waitReason(t, victim, v1.ReasonNotPermitted, 30*time.Second)
	setRules(t, cluster, v1.EnforcementRevoke, tenancyRule(), zRule(true))
	eventually(t, 30*time.Second, "the widened rule to give the victim its View back, while the churn goes on", func() (bool, string) {
		cur := get(t, client.ObjectKeyFromObject(victim))
		e, _ := emuEntry(cluster, victim.Spec.PrincipalARN)
		return readyReason(cur) == v1.ReasonSynced && len(e.Policies) == 1, conditions(cur)
	})
}

// TestRechecksOnly: past the guardrails, an object stalled at its generation in
// Conflict, or refused an adoption, only rechecks (background work); one the
// guardrails refused and allow now does not.
func TestRechecksOnly(t *testing.T) {
	for _, c := range []struct {
		reason, message string
		want            bool
	}{
		{v1.ReasonConflict, "another AccessEntry manages the entry of this principal", true},
		{v1.ReasonNotPermitted, "the existing EKS access entry of x in cluster y " + notAdoptable + ": it holds more than rule team allows", true},
		{v1.ReasonNotPermitted, "not permitted by rule team: spec.accessPolicies AmazonEKSViewPolicy at cluster scope is not allowed", false},
	} {
		ae := entry("recheck", roleARN("recheck"))
		ae.Generation = 3
		accessEntryConditions(ae).stalled(c.reason, c.message)
		if got := rechecksOnly(ae); got != c.want {
			t.Errorf("stalled %s (%s): rechecksOnly %v, want %v", c.reason, c.message, got, c.want)
		}
	}
}
