package controllers

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/budget"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestFullPruningPassResumes: a full pruning pass on a cluster that needs far
// more calls than one reconcile's share of the budget (3 pages and 3 calls for
// each of 230 unmanaged entries, 10 calls a reconcile) goes on, reconcile after
// reconcile, from where the last one stopped: each page is listed once, each
// entry deleted once, and the pass ends with every unmanaged entry deleted.
// Listing again from the start on each reconcile, as the pass once did, never
// ended at 10,000 entries in a busy account.
func TestFullPruningPassResumes(t *testing.T) {
	const n, burst = 230, 10
	w := newStepWorld(t)
	ctx := context.Background()
	for i := range n {
		principal := roleARN(fmt.Sprintf("unmanaged-%03d", i))
		if _, err := w.eks.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal)}); err != nil {
			t.Fatal(err)
		}
	}
	clock := &fakeClock{t: time.Now()}
	r := &ClusterAccessConfigReconciler{Deps: w.r.Deps, ConfigOptions: DefaultConfigOptions()}
	r.DefaultRegion, r.InstanceID, r.ResyncPeriod = region, instance, time.Hour
	r.AWS = testClients(awsConfig(), w.url, &budget.Options{QPS: burst, Burst: burst, Now: clock.now})
	cac := &v1.ClusterAccessConfig{}
	cac.Name, cac.UID, cac.Generation = "demo", types.UID("demo-config"), 1
	cac.Spec = v1.ClusterAccessConfigSpec{ClusterName: "demo", UnmanagedEntries: v1.UnmanagedEntries{Policy: v1.UnmanagedDelete}}
	w.emu.ResetCalls()

	reconciles := 0
	for ; ; reconciles++ {
		if _, ended := r.fullPrune.Load(cac.UID); ended {
			break
		}
		if reconciles == 200 {
			t.Fatalf("after %d reconciles the pass has not ended: %d entries left, calls %v", reconciles, len(w.emu.Entries(account, region, "demo")), w.emu.CallsOf(account))
		}
		before := total(w.emu.CallsOf(account))
		p := &clusterPass{cac: cac, base: cac.DeepCopy(), slot: &awsapi.Slot{}}
		err := run(awsapi.WithSlot(ctx, p.slot), p, r.connect, r.reserve, r.prune)
		p.slot.Release()
		if _, over := awsapi.OverBudget(err); err != nil && !over {
			t.Fatalf("reconcile %d: %v", reconciles, err)
		}
		if made := total(w.emu.CallsOf(account)) - before; made > burst {
			t.Fatalf("reconcile %d made %d calls with a budget of %d", reconciles, made, burst)
		}
		clock.add(time.Second) // the budget refills
	}
	c := w.emu.CallsOf(account)
	t.Logf("%d reconciles, calls %v", reconciles, c)
	// A reconcile may end between an entry's read and the rest of its
	// judgement: that entry is read again, at most once a reconcile.
	if c["ListAccessEntries"] != 3 || c["DeleteAccessEntry"] != n || c["DescribeAccessEntry"] > n+reconciles {
		t.Errorf("calls %v: want 3 pages listed, %d entries deleted once and read at most once more each of %d reconciles", c, n, reconciles)
	}
	if left := len(w.emu.Entries(account, region, "demo")); left != 0 {
		t.Errorf("the pass ended with %d unmanaged entries left in EKS", left)
	}
	deleted := 0
	for _, u := range cac.Status.UnmanagedEntries {
		if u.Action == guardrails.PruneDelete {
			deleted++
		}
	}
	if deleted != n {
		t.Errorf("status records %d deletions, want %d: %v", deleted, n, cac.Status.UnmanagedEntries)
	}
}
