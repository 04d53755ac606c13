package controllers

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// TestShardedPruning runs two instances sharded by --selector, each with both
// controllers. Only the instance whose selector matches the ClusterAccessConfig's
// labels acts on it, and it prunes with every shard's AccessEntries in view: an
// entry only the other shard's AccessEntry declares is not deleted.
func TestShardedPruning(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	for _, shard := range []string{"shard-a", "shard-b"} {
		stop, err := testManager{selector: shardLabel + "=" + shard, resync: 2 * time.Second, clusterConfigs: true, name: "operator-" + shard}.start()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
	}
	cluster := "sharded"
	stray, declaredElsewhere := roleARN("sharded-stray"), roleARN("sharded-declared-by-b")
	for _, p := range []string{stray, declaredElsewhere} {
		if _, err := admin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(p)}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cleanupEntry(t, cluster, p) })
	}
	// Shard b declares an entry it does not own (it waits to be allowed to adopt).
	inB := entry("sharded-b", declaredElsewhere, func(ae *v1.AccessEntry) {
		ae.Labels = map[string]string{shardLabel: "shard-b"}
		ae.Spec.ClusterName = cluster
	})
	create(t, inB)
	waitReason(t, inB, v1.ReasonAlreadyExists, 30*time.Second)
	inA := entry("sharded-a", roleARN("sharded-a"), func(ae *v1.AccessEntry) {
		ae.Labels = map[string]string{shardLabel: "shard-a"}
		ae.Spec.ClusterName = cluster
	})
	create(t, inA)
	waitReady(t, inA, 30*time.Second)

	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cluster, Labels: map[string]string{shardLabel: "shard-a"}},
		Spec: v1.ClusterAccessConfigSpec{ClusterName: cluster, UnmanagedEntries: v1.UnmanagedEntries{Policy: v1.UnmanagedDelete}}}
	createConfig(t, cac)
	got := waitConfig(t, cac.Name, 30*time.Second, "to prune the stray entry", func(c *v1.ClusterAccessConfig) bool {
		return configReady(c) && slices.ContainsFunc(c.Status.UnmanagedEntries, func(u v1.UnmanagedEntry) bool { return u.PrincipalARN == stray && u.Action == "Deleted" })
	})
	if _, ok := emuEntry(cluster, stray); ok {
		t.Fatal("the stray entry is still there")
	}
	if _, ok := emuEntry(cluster, declaredElsewhere); !ok {
		t.Fatalf("the entry shard b declares was pruned (unmanaged entries %+v)", got.Status.UnmanagedEntries)
	}
	time.Sleep(3 * time.Second) // more resyncs of both instances
	list := &eventsv1.EventList{}
	if err := k8s.List(ctx, list, client.InNamespace("default")); err != nil {
		t.Fatal(err)
	}
	var pruners []string
	for _, e := range list.Items {
		if e.Regarding.Name == cac.Name && e.Reason == "PrunedEntry" && !slices.Contains(pruners, e.ReportingController) {
			pruners = append(pruners, e.ReportingController)
		}
	}
	if !slices.Equal(pruners, []string{"operator-shard-a"}) {
		t.Errorf("PrunedEntry events from %q, want only operator-shard-a", pruners)
	}
}

// TestConfigStatusChangesDoNotFanOut: a ClusterAccessConfig's status changes
// (pruning reports, versions, conditions) change nothing its AccessEntries do,
// so they start no reconcile of them: ten of them at 100 entries cost no EKS call.
func TestConfigStatusChangesDoNotFanOut(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	cluster := "fanout"
	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cluster}, Spec: v1.ClusterAccessConfigSpec{ClusterName: cluster}}
	createConfig(t, cac)
	waitConfig(t, cac.Name, 30*time.Second, "to be Ready", configReady)
	var entries []*v1.AccessEntry
	for i := range 100 {
		ae := entry(fmt.Sprintf("fanout-%03d", i), roleARN(fmt.Sprintf("fanout-%03d", i)), func(ae *v1.AccessEntry) { ae.Spec.ClusterName = cluster })
		create(t, ae)
		entries = append(entries, ae)
	}
	for _, ae := range entries {
		waitReady(t, ae, 60*time.Second)
	}
	time.Sleep(time.Second)
	emu.ResetCalls()
	for i := range 10 {
		cur := &v1.ClusterAccessConfig{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: cac.Name}, cur); err != nil {
			t.Fatal(err)
		}
		changed := cur.DeepCopy()
		changed.Status.PlatformVersion = fmt.Sprintf("eks.%d", 100+i)
		changed.Status.UnmanagedEntries = append(changed.Status.UnmanagedEntries, v1.UnmanagedEntry{PrincipalARN: roleARN(fmt.Sprintf("report-%d", i)), Action: "Kept"})
		if err := k8s.Status().Patch(ctx, changed, client.MergeFrom(cur)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * time.Second)
	n := 0
	for op, outcomes := range emu.Calls() {
		if eksemulator.IsEKS(op) {
			for _, c := range outcomes {
				n += c
			}
		}
	}
	if n != 0 {
		t.Fatalf("ten status changes of the ClusterAccessConfig cost %d EKS calls: %v", n, emu.Calls())
	}
}
