package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// ExpiryResult is what an expiry run measured: N time-bound grants of one
// account expiring within one minute, and the changes of another account made
// alone and while the grants expire.
type ExpiryResult struct {
	Machine string `json:"machine"`
	Date    string `json:"date"`
	Grants  int    `json:"grants"`
	// Requested: the grants were made through approved AccessRequests (--requests).
	Requested bool    `json:"requested"`
	Rate      float64 `json:"rate"`
	Burst     int     `json:"burst"`
	// SpreadSeconds is the time from the first grant's expiry to the last's.
	SpreadSeconds float64 `json:"spreadSeconds"`
	// FloorSeconds is, from the first expiry, when the last delete could be made
	// at the account's rate, none before its grant's expiry.
	FloorSeconds float64 `json:"floorSeconds"`
	// RevokedSeconds is, from the first expiry, when EKS held none of them.
	RevokedSeconds float64 `json:"revokedSeconds"`
	Ratio          float64 `json:"ratio"`
	// LatestSeconds is the longest time from a grant's expiry to its entry gone.
	LatestSeconds float64 `json:"latestSeconds"`
	// Calls are the expiring account's EKS calls from the first expiry on.
	Calls map[string]int `json:"calls"`
	// OtherAlone and OtherDuring are seconds to Ready of one change each in the
	// other account, before the expiries and while they are revoked.
	OtherAlone  []float64 `json:"otherAlone"`
	OtherDuring []float64 `json:"otherDuring"`
	// NotExpired counts grant objects not Ready with reason Expired at the end.
	NotExpired int      `json:"notExpired"`
	Targets    []Target `json:"targets"`
}

// otherChanges is how many changes the other account makes in each phase.
const otherChanges = 10

// runExpiry is the expiry benchmark (--expiry).
func runExpiry(o options) (ExpiryResult, error) {
	res := ExpiryResult{Machine: machine(), Date: time.Now().UTC().Format(time.RFC3339), Grants: o.entries, Rate: o.rate, Burst: o.burst}
	work, err := workDir()
	if err != nil {
		return res, err
	}
	clusters := []eksemulator.ClusterConfig{
		{Name: clusterOf(0), Account: accountOf(0), Region: region, AuthenticationMode: "API"},
		{Name: clusterOf(1), Account: accountOf(1), Region: region, AuthenticationMode: "API"},
	}
	say("starting etcd, kube-apiserver and the EKS emulator: 2 accounts, %.0f requests/s each", o.rate)
	w, err := testenv.NewWorld(testenv.WorldOptions{
		Emulator: eksemulator.Config{Clusters: clusters, RateLimit: o.rate, Burst: o.burst, Latency: o.latency, Seed: 1},
		Operator: o.operator, WorkDir: work, Region: region, OperatorArgs: o.operatorArgs(),
	})
	if err != nil {
		return res, err
	}
	defer w.Stop()
	if err := w.StartOperator(); err != nil {
		return res, err
	}
	ctx, k8s := context.Background(), w.Client
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return res, err
	}
	other := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: clusterOf(1)},
		Spec: v1.ClusterAccessConfigSpec{ClusterName: clusterOf(1), RoleARN: "arn:aws:iam::" + accountOf(1) + ":role/eks-access-operator"}}
	if err := k8s.Create(ctx, other); err != nil {
		return res, err
	}
	if err := waitConfigs(ctx, k8s, 1); err != nil {
		return res, err
	}

	grants, first, err := makeGrants(ctx, w, o)
	if err != nil {
		return res, err
	}
	res.Requested = o.requests
	say("the other account's changes, alone")
	if res.OtherAlone, err = otherAccountChanges(ctx, w, o, "alone-", 0); err != nil {
		return res, err
	}
	time.Sleep(time.Until(first))
	w.Emulator.ResetCalls()
	say("the grants expire; the other account's changes go on")
	var wg sync.WaitGroup
	var otherErr error
	res.FloorSeconds = deleteFloor(grants, first, o)
	wg.Go(func() {
		res.OtherDuring, otherErr = otherAccountChanges(ctx, w, o, "during-", time.Duration(res.FloorSeconds/otherChanges*float64(time.Second)))
	})
	gone, err := watchRevoked(w.Emulator, grants, first.Add(time.Duration(3*res.FloorSeconds)*time.Second+time.Minute))
	wg.Wait()
	if err = cmp.Or(err, otherErr); err != nil {
		return res, err
	}
	res.Calls = w.Emulator.CallsOf(accountOf(0))
	res.measureRevocation(grants, gone, first)
	if res.NotExpired, err = notExpired(ctx, w, grants); err != nil {
		return res, err
	}
	res.Targets = expiryTargets(res)
	reportExpiry(res)
	name := fmt.Sprintf("bench-expiry-%d", o.entries)
	if o.requests {
		name = fmt.Sprintf("bench-expiry-requests-%d", o.entries)
	}
	return res, save(o.out, name, res)
}

// makeGrants makes the grants, as AccessEntries with an expiry or, with
// --requests, through approved AccessRequests, and waits until they are all
// Ready; it returns them and the first expiry.
func makeGrants(ctx context.Context, w *testenv.World, o options) ([]*v1.AccessEntry, time.Time, error) {
	if o.requests {
		grants, first, err := requestedGrants(ctx, w, o)
		if err == nil && time.Now().After(first) {
			err = fmt.Errorf("the grants were Ready only after the first expiry (%s)", first.Format(time.TimeOnly))
		}
		if err == nil {
			say("%d grants, expiring from %s on", len(grants), first.Format(time.TimeOnly))
		}
		return grants, first, err
	}
	grants := generate(o.entries, o.seed, clusterOf(0), accountOf(0), "grant-")
	first := expiries(grants, o, rand.New(rand.NewPCG(o.seed, o.seed+2)))
	say("%d grants, expiring from %s to a minute later", len(grants), first.Format(time.TimeOnly))
	if _, err := convergeAll(ctx, w.Client, grants, time.Until(first)); err != nil {
		return nil, first, fmt.Errorf("the grants were not all Ready before the first expiry: %w", err)
	}
	return grants, first, nil
}

// expiries gives every grant an expiry within one minute, the first after the
// grants can converge (1.5 times their floor, plus a minute for the other
// account's changes), and returns the first.
func expiries(grants []*v1.AccessEntry, o options, rng *rand.Rand) time.Time {
	calls := 0
	for _, ae := range grants {
		calls += 1 + len(ae.Spec.AccessPolicies)
	}
	first := time.Now().Add(time.Duration(1.5*float64(calls)/o.rate)*time.Second + time.Minute).Truncate(time.Second)
	for i, ae := range grants {
		at := first
		if i > 0 {
			at = first.Add(time.Duration(rng.IntN(60)) * time.Second)
		}
		ae.Spec.ExpiresAt = &metav1.Time{Time: at}
	}
	return first
}

// deleteFloor is, in seconds from the first expiry, when the last of one delete
// per grant can be made at the account's rate and burst, none before its
// grant's expiry.
func deleteFloor(grants []*v1.AccessEntry, first time.Time, o options) float64 {
	at := make([]float64, len(grants))
	for i, ae := range grants {
		at[i] = ae.Spec.ExpiresAt.Sub(first).Seconds()
	}
	slices.Sort(at)
	t, tokens := 0.0, float64(o.burst)
	for _, e := range at {
		if e > t {
			tokens = math.Min(float64(o.burst), tokens+(e-t)*o.rate)
			t = e
		}
		if tokens < 1 {
			t += (1 - tokens) / o.rate
			tokens = 1
		}
		tokens--
	}
	return t
}

// watchRevoked polls the emulator until it holds none of the grants' entries,
// and returns when each was first seen gone.
func watchRevoked(emu *eksemulator.Server, grants []*v1.AccessEntry, deadline time.Time) (map[string]time.Time, error) {
	gone := map[string]time.Time{}
	for len(gone) < len(grants) {
		now := time.Now()
		for _, ae := range grants {
			if _, seen := gone[ae.Name]; seen {
				continue
			}
			if _, ok := entryOf(emu, accountOf(0), clusterOf(0), ae.Spec.PrincipalARN); !ok {
				gone[ae.Name] = now
			}
		}
		if now.After(deadline) {
			return gone, fmt.Errorf("%d of %d expired grants still in EKS at the deadline", len(grants)-len(gone), len(grants))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return gone, nil
}

// measureRevocation sets the revocation's figures from when each grant went.
func (r *ExpiryResult) measureRevocation(grants []*v1.AccessEntry, gone map[string]time.Time, first time.Time) {
	for _, ae := range grants {
		at, end := gone[ae.Name], ae.Spec.ExpiresAt.Time
		r.SpreadSeconds = math.Max(r.SpreadSeconds, end.Sub(first).Seconds())
		r.RevokedSeconds = math.Max(r.RevokedSeconds, at.Sub(first).Seconds())
		r.LatestSeconds = math.Max(r.LatestSeconds, at.Sub(end).Seconds())
	}
	r.Ratio = r.RevokedSeconds / math.Max(r.FloorSeconds, 0.001)
}

// otherAccountChanges makes otherChanges new entries in the other account, one
// after the other with gap between their starts, and times each to Ready.
func otherAccountChanges(ctx context.Context, w *testenv.World, o options, prefix string, gap time.Duration) ([]float64, error) {
	var out []float64
	for i, ae := range generate(otherChanges, o.seed+uint64(len(prefix)), clusterOf(1), accountOf(1), prefix) {
		ae.Spec.PrincipalARN += "-" + prefix[:len(prefix)-1] // a principal of its own in each phase
		start := time.Now()
		took, err := convergeAll(ctx, w.Client, []*v1.AccessEntry{ae}, time.Minute)
		if err != nil {
			return out, fmt.Errorf("the other account's change %d: %w", i, err)
		}
		out = append(out, took.Seconds())
		time.Sleep(time.Until(start.Add(gap)))
	}
	return out, nil
}

// notExpired counts the grants' objects not Ready with reason Expired.
func notExpired(ctx context.Context, w *testenv.World, grants []*v1.AccessEntry) (int, error) {
	list := &v1.AccessEntryList{}
	if err := w.Client.List(ctx, list); err != nil {
		return 0, err
	}
	names, n := map[string]bool{}, 0
	for _, ae := range grants {
		names[ae.Name] = true
	}
	for _, ae := range list.Items {
		if c := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReady); names[ae.Name] && (c == nil || c.Reason != v1.ReasonExpired) {
			n++
		}
	}
	return n, nil
}

func expiryTargets(r ExpiryResult) []Target {
	alone, during := maxOf(r.OtherAlone), maxOf(r.OtherDuring)
	return []Target{
		{Name: fmt.Sprintf("%d grants expiring within a minute all revoked within 1.1x the floor", r.Grants), Met: r.Ratio <= 1.1,
			Detail: fmt.Sprintf("%.2fx: the last gone %.1fs after the first expiry, floor %.1fs (one delete each at %.0f/s)", r.Ratio, r.RevokedSeconds, r.FloorSeconds, r.Rate)},
		{Name: "another account's changes unaffected: the slowest within 1s of the slowest alone", Met: during <= alone+1,
			Detail: fmt.Sprintf("slowest %.2fs during, %.2fs alone", during, alone)},
		{Name: "every expired object Ready with reason Expired", Met: r.NotExpired == 0, Detail: fmt.Sprintf("%d not", r.NotExpired)},
	}
}

func reportExpiry(r ExpiryResult) {
	fmt.Printf("\nEKS access operator expiry benchmark, %s, %s\n", r.Machine, r.Date)
	how := "AccessEntries with spec.expiresAt"
	if r.Requested {
		how = "made through approved AccessRequests"
	}
	fmt.Printf("%d grants (%s) expiring over %.0fs, EKS limit %.0f/s burst %d per account\n\n", r.Grants, how, r.SpreadSeconds, r.Rate, r.Burst)
	fmt.Printf("revoked: the last %.1fs after the first expiry (floor %.1fs, %.2fx); at most %.1fs after its own expiry\n", r.RevokedSeconds, r.FloorSeconds, r.Ratio, r.LatestSeconds)
	fmt.Printf("calls of the expiring account from the first expiry: %d %v\n", total(r.Calls), r.Calls)
	fmt.Printf("the other account's changes, seconds to Ready: alone %v, during %v\n\n", rounded(r.OtherAlone), rounded(r.OtherDuring))
	printTargets(r.Targets)
}
