package controllers

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// BenchmarkConflictBacklog measures what one namespace's backlog costs another:
// a thousand objects of namespace backlog-storm stay in Conflict (they name a
// principal an object of another namespace holds) and are rechecked all along,
// while namespace backlog-quiet creates new entries one after another. It
// reports how long each new entry took to be Ready beyond its own EKS calls, and
// how many EKS calls the backlog made meanwhile. Run it with make bench-tenancy;
// it runs once, whatever b.N.
func BenchmarkConflictBacklog(b *testing.B) {
	testenv.RequireControlPlane(b)
	ctx := context.Background()
	const cluster, storm, quiet, holder = "backlog", "backlog-storm", "backlog-quiet", "backlog-holder"
	const backlog, samples = 1000, 10
	for _, ns := range []string{storm, quiet, holder} {
		if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
			b.Fatal(err)
		}
	}
	rule := v1.GrantRule{Name: "everyone", Namespaces: v1.RuleNamespaces{Names: []string{storm, quiet, holder}},
		Principals:     v1.RulePrincipals{Accounts: []string{account}},
		AccessPolicies: []v1.PolicyGrant{{PolicyARN: viewPolicy}}}
	withBacklogRoom(&rule, backlog+samples)
	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cluster}, Spec: v1.ClusterAccessConfigSpec{ClusterName: cluster,
		Guardrails: v1.Guardrails{Rules: []v1.GrantRule{rule}}}}
	withTenantRoom(cac, 2*backlog)
	if err := k8s.Create(ctx, cac); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = k8s.Delete(ctx, cac) }()

	held := roleARN("backlog-held")
	owner := entry("held", held, func(ae *v1.AccessEntry) { ae.Namespace, ae.Spec.ClusterName = holder, cluster })
	mustCreate(b, owner)
	waitReadyFor(b, owner, 60*time.Second, func(c *metav1.Condition) bool { return c.Status == metav1.ConditionTrue })

	start := time.Now()
	var names []client.ObjectKey
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < backlog; i += 8 {
				ae := entry(fmt.Sprintf("conflict-%04d", i), held, func(ae *v1.AccessEntry) { ae.Namespace, ae.Spec.ClusterName = storm, cluster })
				mustCreate(b, ae)
				mu.Lock()
				names = append(names, client.ObjectKeyFromObject(ae))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	defer deleteAll(b, append(names, client.ObjectKeyFromObject(owner)))
	testenv.Eventually(b, 15*time.Minute, "the backlog to be in Conflict", func() (bool, string) {
		list := &v1.AccessEntryList{}
		if err := k8s.List(ctx, list, client.InNamespace(storm)); err != nil {
			return false, err.Error()
		}
		n := 0
		for _, ae := range list.Items {
			if c := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReady); c != nil && c.Reason == v1.ReasonConflict {
				n++
			}
		}
		return n == backlog, fmt.Sprintf("%d of %d in Conflict", n, backlog)
	})
	b.Logf("%d objects in Conflict after %s", backlog, time.Since(start).Round(time.Second))

	var took []time.Duration
	callsBefore := totalEKSCalls()
	measured := time.Now()
	for i := range samples {
		ae := entry(fmt.Sprintf("new-%02d", i), roleARN(fmt.Sprintf("backlog-new-%02d", i)), func(ae *v1.AccessEntry) {
			ae.Namespace, ae.Spec.ClusterName = quiet, cluster
			ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy, quiet)}
		})
		t0 := time.Now()
		mustCreate(b, ae)
		waitReadyFor(b, ae, 60*time.Second, func(c *metav1.Condition) bool { return c.Status == metav1.ConditionTrue })
		took = append(took, time.Since(t0))
		names = append(names, client.ObjectKeyFromObject(ae))
		time.Sleep(2 * time.Second) // let the backlog's rechecks come between samples
	}
	backlogCalls := totalEKSCalls() - callsBefore - 2*samples // each new entry: a create and an associate
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	b.ReportMetric(took[len(took)/2].Seconds(), "s/new-entry-median")
	b.ReportMetric(took[len(took)-1].Seconds(), "s/new-entry-max")
	b.ReportMetric(float64(backlogCalls)/time.Since(measured).Seconds(), "backlog-calls/s")
	b.Logf("another namespace's new entry (2 EKS writes) with %d objects in Conflict: median %s, max %s; the backlog made %d EKS calls in %s",
		backlog, took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond), backlogCalls, time.Since(measured).Round(time.Second))
}

func mustCreate(b testing.TB, ae *v1.AccessEntry) {
	b.Helper()
	if err := k8s.Create(context.Background(), ae); err != nil {
		b.Fatal(err)
	}
}

// waitReadyFor waits until the object's Ready condition, at its generation, satisfies ok.
func waitReadyFor(b testing.TB, ae *v1.AccessEntry, timeout time.Duration, ok func(*metav1.Condition) bool) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		cur := &v1.AccessEntry{}
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ae), cur); err == nil {
			if c := meta.FindStatusCondition(cur.Status.Conditions, v1.ConditionReady); c != nil && cur.Status.ObservedGeneration == cur.Generation && ok(c) {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s/%s: not there after %s; last: %s; EKS calls so far: %d", ae.Namespace, ae.Name, timeout, conditions(cur), totalEKSCalls())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func deleteAll(b testing.TB, keys []client.ObjectKey) {
	for _, k := range keys {
		_ = k8s.Delete(context.Background(), &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name}})
	}
	testenv.Eventually(b, 10*time.Minute, "the benchmark's objects to be gone", func() (bool, string) {
		left := 0
		for _, k := range keys {
			if err := k8s.Get(context.Background(), k, &v1.AccessEntry{}); err == nil {
				left++
			}
		}
		return left == 0, fmt.Sprintf("%d left", left)
	})
}

// totalEKSCalls counts every EKS call the emulator has answered.
func totalEKSCalls() int {
	n := 0
	for op, outcomes := range emu.Calls() {
		if eksemulator.IsEKS(op) {
			for _, c := range outcomes {
				n += c
			}
		}
	}
	return n
}

// withBacklogRoom and withTenantRoom raise the entry limits so that the
// backlog is all in Conflict rather than refused by a limit.
func withBacklogRoom(r *v1.GrantRule, n int) { r.MaxEntriesPerNamespace = int32(n) }
func withTenantRoom(c *v1.ClusterAccessConfig, n int) {
	c.Spec.Guardrails.MaxTenantEntries = int32(n)
}
