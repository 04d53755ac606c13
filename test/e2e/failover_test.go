package e2e

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

const (
	leaseName = "eks-access-operator.eksaccess.io"
	acquired  = "Successfully acquired lease"
	// takeoverBound is how long a standby may take to lead after the leader dies
	// without releasing its lease: the lease (15s) plus one retry (2s, jittered up to
	// 2.2 times), and a second for the process to notice.
	takeoverBound = 15*time.Second + 2200*time.Millisecond*2 + time.Second
)

// TestLeaderFailover runs two operator processes with leader election, as the
// chart's two replicas, against envtest and the EKS emulator. The leader is
// SIGKILLed while it creates entries; while no one leads, objects are deleted,
// changed and created. The standby must take the lease within the lease time and
// finish: every object Ready, and EKS holding exactly one entry per object, the one
// its status records, with no entry left of a deleted object and none created twice.
func TestLeaderFailover(t *testing.T) {
	testenv.RequireControlPlane(t)
	// Slow enough calls that the leader dies with work half done.
	w, first, secondLog := twoReplicas(t, 120*time.Millisecond, "--instance-id=failover-test", "--max-concurrent-reconciles=2")
	ctx := context.Background()
	firstHolder := leaseHolder(t, w.Client)

	const n = 24
	var objects []*v1.AccessEntry
	for i := range n {
		ae := accessEntry(fmt.Sprintf("team-%02d", i), emuCluster, fmt.Sprintf("arn:aws:iam::111122223333:role/team-%02d", i))
		ae.Spec.AccessPolicies = append(ae.Spec.AccessPolicies, v1.AccessPolicy{
			PolicyARN:   "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
			AccessScope: v1.AccessScope{Type: v1.AccessScopeNamespace, Namespaces: []v1.ScopeNamespace{v1.ScopeNamespace(fmt.Sprintf("team-%02d", i))}},
		})
		if err := w.Client.Create(ctx, ae); err != nil {
			t.Fatal(err)
		}
		objects = append(objects, ae)
	}

	// Mid-convergence: some objects Ready, not all.
	var readyAtKill int
	testenv.Eventually(t, 60*time.Second, "a few objects Ready", func() (bool, string) {
		readyAtKill = len(readyObjects(t, w.Client))
		return readyAtKill >= 4, fmt.Sprintf("%d Ready", readyAtKill)
	})
	if readyAtKill == n {
		t.Fatalf("all %d objects were Ready before the leader was killed: the test did not kill it mid-convergence", n)
	}
	if logHas(secondLog, acquired) {
		t.Fatal("the standby acquired the lease while the leader lived")
	}
	first.Kill()
	killed := time.Now()
	t.Logf("killed the leader with %d of %d objects Ready", readyAtKill, n)

	// While no one leads: delete two Ready objects, change one, create one.
	ready := readyObjects(t, w.Client)
	deleted := ready[:2]
	for _, name := range deleted {
		if err := w.Client.Delete(ctx, &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	changed := &v1.AccessEntry{}
	if err := w.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ready[2]}, changed); err != nil {
		t.Fatal(err)
	}
	changed.Spec.KubernetesGroups = []v1.KubernetesGroup{"auditors"}
	if err := w.Client.Update(ctx, changed); err != nil {
		t.Fatal(err)
	}
	late := accessEntry("late", emuCluster, "arn:aws:iam::111122223333:role/late")
	if err := w.Client.Create(ctx, late); err != nil {
		t.Fatal(err)
	}

	tookOver := waitLog(t, secondLog, acquired, 2*takeoverBound).Sub(killed)
	if tookOver > takeoverBound {
		t.Errorf("the standby took the lease %s after the leader died, want at most %s", tookOver, takeoverBound)
	}
	if holder := leaseHolder(t, w.Client); holder == firstHolder {
		t.Errorf("the lease is still held by %s", holder)
	}
	t.Logf("the standby took over %s after the kill", tookOver.Round(100*time.Millisecond))

	want := map[string]*v1.AccessEntry{}
	testenv.Eventually(t, 90*time.Second, "every object Ready and the deleted ones gone", func() (bool, string) {
		list := &v1.AccessEntryList{}
		if err := w.Client.List(ctx, list, client.InNamespace(namespace)); err != nil {
			return false, err.Error()
		}
		var notReady []string
		clear(want)
		for i := range list.Items {
			ae := &list.Items[i]
			want[ae.Spec.PrincipalARN] = ae
			if !meta.IsStatusConditionTrue(ae.Status.Conditions, v1.ConditionReady) || ae.Status.ObservedGeneration != ae.Generation {
				notReady = append(notReady, ae.Name+": "+conditionsString(ae))
			}
		}
		return len(list.Items) == n-len(deleted)+1 && len(notReady) == 0, fmt.Sprintf("%d objects, not Ready: %v", len(list.Items), notReady)
	})

	// EKS holds one entry per object, the one its status records, as its spec says.
	entries := w.Emulator.Entries(emuAccount, emuRegion, emuCluster)
	var principals []string
	for _, e := range entries {
		principals = append(principals, e.PrincipalARN)
		ae := want[e.PrincipalARN]
		if ae == nil {
			t.Errorf("EKS holds an entry for %s, which no object declares (tags %v)", e.PrincipalARN, e.Tags)
			continue
		}
		if e.AccessEntryARN != ae.Status.AccessEntryARN {
			t.Errorf("%s: EKS's entry %s is not the one status records, %s", ae.Name, e.AccessEntryARN, ae.Status.AccessEntryARN)
		}
		if e.Tags[ownership.TagName] != ae.Name || e.Tags[ownership.TagNamespace] != namespace {
			t.Errorf("%s: the entry's ownership tags %v", ae.Name, e.Tags)
		}
		var got, wantPolicies []string
		for _, p := range e.Policies {
			got = append(got, p.PolicyARN+" "+p.ScopeType+" "+strings.Join(p.Namespaces, ","))
		}
		for _, p := range ae.Spec.AccessPolicies {
			var nss []string
			for _, ns := range p.AccessScope.Namespaces {
				nss = append(nss, string(ns))
			}
			wantPolicies = append(wantPolicies, p.PolicyARN+" "+string(p.AccessScope.Type)+" "+strings.Join(nss, ","))
		}
		sort.Strings(got)
		sort.Strings(wantPolicies)
		if !slices.Equal(got, wantPolicies) {
			t.Errorf("%s: EKS associates %v, the spec %v", ae.Name, got, wantPolicies)
		}
		var wantGroups []string
		for _, g := range ae.Spec.KubernetesGroups {
			wantGroups = append(wantGroups, string(g))
		}
		if !slices.Equal(e.KubernetesGroups, wantGroups) {
			t.Errorf("%s: EKS's groups %v, the spec's %v", ae.Name, e.KubernetesGroups, ae.Spec.KubernetesGroups)
		}
	}
	if len(entries) != len(want) {
		t.Errorf("EKS holds %d entries %v for %d objects", len(entries), principals, len(want))
	}
	calls := w.Emulator.Calls()
	if got := calls["CreateAccessEntry"]["OK"]; got != n+1 {
		t.Errorf("%d entries created for %d objects: some were created twice", got, n+1)
	}
	if got := calls["DeleteAccessEntry"]["OK"]; got != len(deleted) {
		t.Errorf("%d entries deleted for %d deleted objects", got, len(deleted))
	}
}

// readyObjects names the objects in the operator's namespace that are Ready, sorted.
func readyObjects(t *testing.T, c client.Client) []string {
	t.Helper()
	list := &v1.AccessEntryList{}
	if err := c.List(context.Background(), list, client.InNamespace(namespace)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ae := range list.Items {
		if meta.IsStatusConditionTrue(ae.Status.Conditions, v1.ConditionReady) {
			out = append(out, ae.Name)
		}
	}
	sort.Strings(out)
	return out
}

func leaseHolder(t *testing.T, c client.Client) string {
	t.Helper()
	lease := &coordinationv1.Lease{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: leaseName}, lease); err != nil {
		t.Fatalf("the leader-election Lease: %v", err)
	}
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

// TestExpiryAcrossFailover: grants that expire while their leader is dead and
// its lease not yet taken are revoked by the standby within 60 s of their expiry.
func TestExpiryAcrossFailover(t *testing.T) {
	testenv.RequireControlPlane(t)
	w, first, secondLog := twoReplicas(t, 0, "--instance-id=expiry-failover-test")
	ctx := context.Background()

	expiresAt := metav1.NewTime(time.Now().Add(20 * time.Second).Truncate(time.Second))
	var grants []*v1.AccessEntry
	for i := range 3 {
		ae := accessEntry(fmt.Sprintf("oncall-%d", i), emuCluster, fmt.Sprintf("arn:aws:iam::111122223333:role/oncall-%d", i))
		ae.Spec.ExpiresAt = &expiresAt
		if err := w.Client.Create(ctx, ae); err != nil {
			t.Fatal(err)
		}
		grants = append(grants, ae)
	}
	for _, ae := range grants {
		waitCondition(t, w.Client, ae, v1.ConditionReady, v1.ReasonSynced)
	}
	// Killed shortly before the expiry: the standby leads only after it.
	time.Sleep(time.Until(expiresAt.Add(-5 * time.Second)))
	first.Kill()
	waitLog(t, secondLog, acquired, 2*takeoverBound)
	testenv.Eventually(t, time.Until(expiresAt.Add(60*time.Second)), "every grant's entry gone within 60s of its expiry", func() (bool, string) {
		var held []string
		for _, ae := range grants {
			if _, ok := w.Emulator.Entry(emuAccount, emuRegion, emuCluster, ae.Spec.PrincipalARN); ok {
				held = append(held, ae.Name)
			}
		}
		return len(held) == 0, fmt.Sprintf("EKS still holds %v", held)
	})
	for _, ae := range grants {
		waitCondition(t, w.Client, ae, v1.ConditionReady, v1.ReasonExpired)
	}
}

// twoReplicas starts a world and two operator replicas with leader election, as
// the chart's two, with the EKS emulator's calls taking latency; it returns once
// the first leads, with the first and the second's log.
func twoReplicas(t *testing.T, latency time.Duration, args ...string) (*testenv.World, *testenv.Operator, string) {
	t.Helper()
	w := replicaWorld(t, latency, args...)
	first, _, secondLog := twoLeading(t, w)
	return w, first, secondLog
}

// replicaWorld starts the control plane, the operator's namespace and the EKS
// emulator, whose calls take latency; the replicas' flags are args with
// --leader-elect. Nothing runs the operator yet.
func replicaWorld(t *testing.T, latency time.Duration, args ...string) *testenv.World {
	t.Helper()
	w, err := testenv.NewWorld(testenv.WorldOptions{
		Emulator: eksemulator.Config{
			Clusters: []eksemulator.ClusterConfig{{Name: emuCluster, Account: emuAccount, Region: emuRegion, AuthenticationMode: eksemulator.ModeAPI}},
			Latency:  latency,
		},
		Operator: operatorBinary(t), WorkDir: t.TempDir(), Region: emuRegion,
		OperatorArgs: append([]string{"--leader-elect"}, args...),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	t.Setenv("POD_NAMESPACE", namespace)
	if err := w.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		t.Fatal(err)
	}
	return w
}

// twoLeading starts replicas a and b, and returns once a leads, with both and
// b's log.
func twoLeading(t *testing.T, w *testenv.World) (first, second *testenv.Operator, secondLog string) {
	t.Helper()
	first, firstLog, err := w.StartReplica("a")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(first.Stop)
	waitLog(t, firstLog, acquired, 30*time.Second)
	second, secondLog, err = w.StartReplica("b")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Stop)
	return first, second, secondLog
}
