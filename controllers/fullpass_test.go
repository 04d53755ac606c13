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
	"sigs.k8s.io/controller-runtime/pkg/client"

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
	ctx := context.Background()
	pr := newPruning(ctx, t, n, burst)
	w, r, cac := pr.w, pr.r, pr.cac
	w.emu.ResetCalls()

	reconciles := 0
	for ; ; reconciles++ {
		if _, ended := r.fullPrune.Load(cac.UID); ended {
			break
		}
		if reconciles == 200 {
			t.Fatalf("after %d reconciles the pass has not ended: %d entries left, calls %v", reconciles, len(w.emu.Entries(account, region, "demo")), w.emu.CallsOf(account))
		}
		pr.once(ctx, t)
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

// pruning is a ClusterAccessConfig reconciler whose account allows burst calls
// a second on a clock the test moves, and a config that deletes unmanaged
// entries on cluster demo, holding n of them; objs are in the API server.
type pruning struct {
	w     *stepWorld
	clock *fakeClock
	burst int
	r     *ClusterAccessConfigReconciler
	cac   *v1.ClusterAccessConfig
}

func newPruning(ctx context.Context, t *testing.T, n, burst int, objs ...client.Object) *pruning {
	w := newStepWorld(t, objs...)
	for i := range n {
		principal := roleARN(fmt.Sprintf("unmanaged-%03d", i))
		if _, err := w.eks.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal)}); err != nil {
			t.Fatal(err)
		}
	}
	pr := &pruning{w: w, clock: &fakeClock{t: time.Now()}, burst: burst}
	pr.r = &ClusterAccessConfigReconciler{Deps: w.r.Deps, ConfigOptions: DefaultConfigOptions(), Hints: NewPruneHints()}
	pr.r.DefaultRegion, pr.r.InstanceID, pr.r.ResyncPeriod = region, instance, time.Hour
	pr.r.AWS = testClients(awsConfig(), w.url, &budget.Options{QPS: float64(burst), Burst: burst, Now: pr.clock.now})
	pr.cac = &v1.ClusterAccessConfig{}
	pr.cac.Name, pr.cac.UID, pr.cac.Generation = "demo", types.UID("demo-config"), 1
	pr.cac.Spec = v1.ClusterAccessConfigSpec{ClusterName: "demo", UnmanagedEntries: v1.UnmanagedEntries{Policy: v1.UnmanagedDelete}}
	return pr
}

// once runs one reconcile's pruning, which the budget may cut short, fails
// when it makes more than burst calls, and moves the clock a second on (the
// budget refills).
func (pr *pruning) once(ctx context.Context, t *testing.T) {
	t.Helper()
	before := total(pr.w.emu.CallsOf(account))
	p := &clusterPass{cac: pr.cac, base: pr.cac.DeepCopy(), slot: &awsapi.Slot{}}
	err := run(awsapi.WithSlot(ctx, p.slot), p, pr.r.connect, pr.r.reserve, pr.r.prune)
	p.slot.Release()
	if _, over := awsapi.OverBudget(err); err != nil && !over {
		t.Fatalf("reconcile: %v", err)
	}
	if made := total(pr.w.emu.CallsOf(account)) - before; made > pr.burst {
		t.Fatalf("a reconcile made %d calls with a budget of %d", made, pr.burst)
	}
	pr.clock.add(time.Second)
}

// TestHintJudgedDuringFullPass: an event names an unmanaged entry created while
// a full pass is under way, sorting before where the pass's listing got to. The
// pass never sees it, so the event's principal is judged at once, and the pass
// goes on to its end. Dropping the hint because a pass was under way, as the
// operator once did, left such an entry until the next pass: 800 s after its
// event in the 10,000-entry benchmark.
func TestHintJudgedDuringFullPass(t *testing.T) {
	ctx := context.Background()
	pr := newPruning(ctx, t, 60, 10)
	w, r, cac := pr.w, pr.r, pr.cac
	for i := 0; ; i++ {
		if v, ok := r.fullPasses.Load(cac.UID); ok && v.(*fullPass).listed {
			break
		}
		if i == 20 {
			t.Fatal("after 20 reconciles the full pass has not listed the cluster")
		}
		pr.once(ctx, t)
	}
	late := roleARN("aaa-late-admin")
	if _, err := w.eks.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(late)}); err != nil {
		t.Fatal(err)
	}
	r.Hints.add(cac, []string{late})
	pr.once(ctx, t)
	for _, e := range w.emu.Entries(account, region, "demo") {
		if e.PrincipalARN == late {
			t.Fatalf("one reconcile after its event, the entry of %s created during the full pass is still in EKS", late)
		}
	}
	for i := 0; ; i++ {
		if _, ended := r.fullPrune.Load(cac.UID); ended {
			break
		}
		if i == 100 {
			t.Fatalf("the full pass did not go on to its end after the hint: %d entries left", len(w.emu.Entries(account, region, "demo")))
		}
		pr.once(ctx, t)
	}
	if left := len(w.emu.Entries(account, region, "demo")); left != 0 {
		t.Errorf("the pass ended with %d unmanaged entries left in EKS", left)
	}
}
