package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// generate makes a deterministic, realistic mix: mostly people and CI roles
// (STANDARD, 0-3 policies at cluster or namespace scope, some with groups and a
// username), and node roles of each kind.
//
// The entries are of cluster cl in account acct; prefix sets their names apart.
func generate(n int, seed uint64, cl, acct, prefix string) []*v1.AccessEntry {
	rng := rand.New(rand.NewPCG(seed, seed))
	policies := []string{"AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy", "AmazonEKSViewPolicy", "AmazonEKSAdminViewPolicy"}
	out := make([]*v1.AccessEntry, n)
	for i := range out {
		ae := &v1.AccessEntry{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%sentry-%05d", prefix, i), Namespace: namespace},
			Spec:       v1.AccessEntrySpec{ClusterName: cl, PrincipalARN: fmt.Sprintf("arn:aws:iam::%s:role/bench/role-%05d", acct, i)},
		}
		switch p := rng.IntN(100); {
		case p < 12:
			ae.Spec.Type = v1.TypeEC2Linux
		case p < 15:
			ae.Spec.Type = v1.TypeEC2Windows
		case p < 20:
			ae.Spec.Type = v1.TypeFargateLinux
		default:
			ae.Spec.Type = v1.TypeStandard
			for _, k := range rng.Perm(len(policies))[:rng.IntN(4)] {
				p := v1.AccessPolicy{PolicyARN: "arn:aws:eks::aws:cluster-access-policy/" + policies[k], AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}}
				if rng.IntN(2) == 0 {
					p.AccessScope = v1.AccessScope{Type: v1.AccessScopeNamespace, Namespaces: []v1.ScopeNamespace{v1.ScopeNamespace(fmt.Sprintf("team-%d", i%50)), "shared-*"}}
				}
				ae.Spec.AccessPolicies = append(ae.Spec.AccessPolicies, p)
			}
			if rng.IntN(3) == 0 {
				ae.Spec.KubernetesGroups = []v1.KubernetesGroup{v1.KubernetesGroup(fmt.Sprintf("team-%d", i%50))}
			}
			if rng.IntN(4) == 0 {
				ae.Spec.Username = fmt.Sprintf("user-%d:{{SessionName}}", i)
			}
		}
		out[i] = ae
	}
	return out
}

// parallel runs f on every entry with 16 goroutines and returns the first error.
func parallel(entries []*v1.AccessEntry, f func(*v1.AccessEntry) error) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	next := make(chan *v1.AccessEntry)
	for range 16 {
		wg.Go(func() {
			for ae := range next {
				if err := f(ae); err != nil {
					mu.Lock()
					firstErr = cmpOr(firstErr, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, ae := range entries {
		next <- ae
	}
	close(next)
	wg.Wait()
	return firstErr
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// waitFor lists the entries every listPoll until done says so; it returns how
// many objects were ever seen Stalled.
func waitFor(ctx context.Context, k8s client.Client, timeout time.Duration, done func([]v1.AccessEntry) (int, bool)) (int, error) {
	return waitForEvery(ctx, k8s, timeout, listPoll, done)
}

// listPoll is how often the benchmark lists every AccessEntry: each second, and
// less often for a large run, so that its own lists (30 MB of JSON at 10,000
// entries) cost the API server and the machine's two cores little next to the
// operator. Set by main from --entries.
var listPoll = time.Second

// waitForEvery is waitFor, listing every poll.
func waitForEvery(ctx context.Context, k8s client.Client, timeout, poll time.Duration, done func([]v1.AccessEntry) (int, bool)) (int, error) {
	return waitForEveryIn(ctx, k8s, namespace, timeout, poll, done)
}

// waitForEveryIn is waitForEvery in namespace ns.
func waitForEveryIn(ctx context.Context, k8s client.Client, ns string, timeout, poll time.Duration, done func([]v1.AccessEntry) (int, bool)) (int, error) {
	deadline := time.Now().Add(timeout)
	stalled := map[string]bool{}
	last := time.Now()
	for {
		list := &v1.AccessEntryList{}
		if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
			return len(stalled), err
		}
		for _, ae := range list.Items {
			if meta.IsStatusConditionTrue(ae.Status.Conditions, v1.ConditionStalled) {
				stalled[ae.Name] = true
			}
		}
		n, ok := done(list.Items)
		if ok {
			return len(stalled), nil
		}
		if time.Since(last) > 15*time.Second {
			say("  ... %d of %d so far", n, len(list.Items))
			last = time.Now()
		}
		if time.Now().After(deadline) {
			return len(stalled), fmt.Errorf("gave up after %s: %d done", timeout, n)
		}
		time.Sleep(poll)
	}
}

// countReady counts the objects (of only, when set) Ready at their current generation.
func countReady(list []v1.AccessEntry, only map[string]bool) int {
	n := 0
	for _, ae := range list {
		if only != nil && !only[ae.Name] {
			continue
		}
		c := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReady)
		if c != nil && c.Status == metav1.ConditionTrue && ae.Status.ObservedGeneration == ae.Generation {
			n++
		}
	}
	return n
}
