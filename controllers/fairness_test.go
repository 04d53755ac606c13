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
// foreground work that revokes, not a background recheck behind everything else,
// and nothing reading the status takes the refusal for done while EKS still
// holds the grant.
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
	p := &entryPass{ae: ae, id: id, target: target}

	err := r.revoke(context.Background(), p, guardrailRefusal{enforcement: v1.EnforcementRevoke, msg: "no rule admits it"})
	if _, cerr := r.ending(ae, false).conclude(err); cerr != nil {
		t.Fatalf("conclude: %v", cerr)
	}
	if p.recheck {
		t.Error("the first pass of a newly refused object was taken for a recheck")
	}
	if got := readyReason(ae); got != v1.ReasonNotPermitted {
		t.Errorf("Ready reason %q, want %s; conditions: %s", got, v1.ReasonNotPermitted, conditions(ae))
	}
	if !meta.IsStatusConditionTrue(ae.Status.Conditions, v1.ConditionReconciling) || stalledAtGeneration(ae) {
		t.Errorf("a refusal whose revocation is still to come must be Reconciling, not Stalled; conditions: %s", conditions(ae))
	}
	// The pass the budget starts when the turn comes is foreground work.
	p = &entryPass{ae: ae, id: id, target: target}
	_ = r.revoke(context.Background(), p, guardrailRefusal{enforcement: v1.EnforcementRevoke, msg: "no rule admits it"})
	if p.class() != budget.Foreground {
		t.Errorf("the revoking pass after a turn was asked for is %s work, want foreground", p.class())
	}
	// Once revoked and Stalled, a pass for the same refusal is a recheck
	// (background); one for a new refusal (a narrowed rule) may have more to
	// revoke, and is foreground.
	accessEntryConditions(ae).stalled(v1.ReasonNotPermitted, "no rule admits it; revoked: access policy AmazonEKSEditPolicy")
	for msg, want := range map[string]budget.Class{"no rule admits it": budget.Background, "the rule no longer allows AmazonEKSViewPolicy": budget.Foreground} {
		p = &entryPass{ae: ae, id: id, target: target}
		_ = r.revoke(context.Background(), p, guardrailRefusal{enforcement: v1.EnforcementRevoke, msg: msg})
		if p.class() != want {
			t.Errorf("refused (%q) while Stalled on the first refusal: %s work, want %s", msg, p.class(), want)
		}
	}
}
