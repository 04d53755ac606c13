package controllers

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/budget"
)

// Sweeper finds drift between an entry's full verifications, cheaply: EKS's
// ListAccessEntries names 100 principals a call, and with its associatedPolicyArn
// filter only those that hold a given policy. It sweeps each cluster the
// AccessEntries of this instance live in, in two listings on periods of their own:
//
//   - sweep (every Period): every entry of the cluster listed; an entry an
//     AccessEntry holds Ready that EKS no longer lists was deleted out of band;
//   - watched (every WatchedPeriod): the holders of each watched policy (the
//     high-privilege ones) listed; an entry that holds one its spec does not name
//     was escalated out of band, one that lost a policy its spec names was cut
//     back (or its entry deleted).
//
// What it finds is marked suspect and queued: the object's next pass reads the
// entry in full, as foreground work, and puts it back. Its listings take their
// turn in the account's budget with changes (a flow of their own per cluster),
// ahead of verification. Entries EKS lists that no AccessEntry declares are the
// ClusterAccessConfig's to report or prune, on its own cycle.
type Sweeper struct {
	SweepOptions
	// Client reads the AccessEntries of this instance (the cache).
	Client   client.Reader
	AWS      *awsapi.Clients
	Suspects *Suspects
	// Events says where EKS's events arrive (nil: nowhere).
	Events EventsFlow

	// targets holds, by cluster, region and role, the target of the objects
	// reconciled there (Watch).
	targets sync.Map
}

// sweepKey names one cluster as the operator reaches it.
type sweepKey struct {
	Cluster, Region, RoleARN string
}

// sweepKind is one of the two listings of a cluster.
type sweepKind int

const (
	sweepAll sweepKind = iota
	sweepWatched
)

// retryFailedSweep is when a listing that failed (its pages are retried by
// awsapi.Clients.List) is made again, rather than a whole period later: one
// failure must not hide a deletion for a period.
const retryFailedSweep = 30 * time.Second

// sweepJob is one listing of one cluster.
type sweepJob struct {
	key  sweepKey
	kind sweepKind
}

// period is how long after its last listing a cluster's listing is due again:
// the events periods while EKS's events of its account and region arrive.
func (s *Sweeper) period(ctx context.Context, k sweepKind, t awsapi.Target) time.Duration {
	flowing := s.Events != nil && s.Events.Flowing(s.accountOf(ctx, t), t.Region)
	switch {
	case k == sweepWatched && flowing:
		return s.EventsWatchedPeriod
	case k == sweepWatched:
		return s.WatchedPeriod
	case flowing:
		return s.EventsPeriod
	}
	return s.Period
}

// accountOf is the account a target's calls act in; "" when STS cannot say.
func (s *Sweeper) accountOf(ctx context.Context, t awsapi.Target) string {
	account, _, err := s.AWS.Account(ctx, t)
	if err != nil {
		return ""
	}
	return account
}

// Watch adds a cluster, as a target reaches it, to those swept.
func (s *Sweeper) Watch(cluster string, t awsapi.Target) {
	s.targets.Store(sweepKey{Cluster: cluster, Region: t.Region, RoleARN: t.RoleARN}, t)
}

// NeedLeaderElection: only the leader sweeps, as only it reconciles.
func (s *Sweeper) NeedLeaderElection() bool { return true }

// Start sweeps each known cluster, each listing on its period in its own
// goroutine, so that a slow or throttled account holds up no other; it also
// keeps the verification-age and budget gauges current.
func (s *Sweeper) Start(ctx context.Context) error {
	var (
		jobs sweepJobs
		wg   sync.WaitGroup
	)
	kinds := []sweepKind{sweepAll}
	if len(s.WatchedPolicies) > 0 {
		kinds = append(kinds, sweepWatched)
	}
	defer wg.Wait()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastGauges := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now := time.Now()
		s.targets.Range(func(k, v any) bool {
			key, t := k.(sweepKey), v.(awsapi.Target)
			for _, kind := range kinds {
				job := sweepJob{key: key, kind: kind}
				if jobs.claim(job, now, s.period(ctx, kind, t)) {
					wg.Go(func() { jobs.done(job, s.sweep(ctx, job, t)) })
				}
			}
			return true
		})
		if now.Sub(lastGauges) >= 5*time.Second {
			s.updateGauges(ctx)
			lastGauges = now
		}
	}
}

// sweepJobs schedules the listings. A listing is due its period after the last
// one (jittered by a factor drawn at each), whichever period holds now: when
// events stop arriving, a cluster's next listing comes at the no-events period,
// not a long one later. A failed listing is made again within retryFailedSweep.
type sweepJobs struct {
	mu      sync.Mutex
	running map[sweepJob]bool
	last    map[sweepJob]sweepRun
}

// sweepRun is when a listing was last made, and how it went.
type sweepRun struct {
	at     time.Time
	factor float64
	failed bool
}

// claim says whether a listing is due now, and marks it running if so.
func (j *sweepJobs) claim(job sweepJob, now time.Time, period time.Duration) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.running == nil {
		j.running, j.last = map[sweepJob]bool{}, map[sweepJob]sweepRun{}
	}
	run := j.last[job]
	wait := time.Duration(float64(period) * run.factor)
	if run.failed {
		wait = min(wait, retryFailedSweep)
	}
	if j.running[job] || now.Before(run.at.Add(wait)) {
		return false
	}
	j.running[job] = true
	return true
}

// done records a listing made.
func (j *sweepJobs) done(job sweepJob, ok bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.running[job], j.last[job] = false, sweepRun{at: time.Now(), factor: 1 + 0.1*rand.Float64(), failed: !ok}
}

// sweep makes one listing of one cluster: all its entries, or the holders of
// each watched policy; it marks suspect the AccessEntries whose entry differs.
// false: the listing failed, and is to be made again soon.
func (s *Sweeper) sweep(ctx context.Context, job sweepJob, t awsapi.Target) bool {
	key := job.key
	log := ctrl.LoggerFrom(ctx).WithValues("cluster", key.Cluster, "region", key.Region)
	watched := s.watchedEntries(ctx, key)
	if len(watched) == 0 {
		return true
	}
	if job.kind == sweepAll {
		present, err := s.AWS.List(ctx, awsapi.Listing{Target: t, Cluster: key.Cluster, Tier: "sweep"})
		if err != nil {
			log.V(1).Info("sweep failed", "error", err.Error())
			return false
		}
		for _, ae := range watched {
			if !present[ae.Status.Identity.PrincipalARN] {
				driftFound.WithLabelValues("sweep").Inc()
				s.Suspects.Mark(ae.UID, client.ObjectKeyFromObject(ae))
			}
		}
		return true
	}
	partition := awsarn.PartitionOfRegion(key.Region)
	for _, name := range s.WatchedPolicies {
		policy := "arn:" + partition + ":eks::aws:cluster-access-policy/" + name
		holders, err := s.AWS.List(ctx, awsapi.Listing{Target: t, Cluster: key.Cluster, Policy: policy, Tier: "watched"})
		if err != nil {
			log.V(1).Info("watched-policy sweep failed", "policy", name, "error", err.Error())
			return false
		}
		for _, ae := range watched {
			principal := ae.Status.Identity.PrincipalARN
			wants := slices.ContainsFunc(ae.Spec.AccessPolicies, func(p v1.AccessPolicy) bool { return p.PolicyARN == policy })
			if holders[principal] != wants {
				driftFound.WithLabelValues("watched").Inc()
				s.Suspects.Mark(ae.UID, client.ObjectKeyFromObject(ae))
			}
		}
	}
	return true
}

// watchedEntries are the AccessEntries of this instance whose entry lives in
// the swept cluster and that are Ready at their generation, verified long enough
// ago for EKS to list what the verification saw.
func (s *Sweeper) watchedEntries(ctx context.Context, key sweepKey) []*v1.AccessEntry {
	list := &v1.AccessEntryList{}
	// Read only: the cache's objects, not copies of them.
	if err := s.Client.List(ctx, list, client.MatchingFields{clusterNameField: key.Cluster}, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	settled := time.Now().Add(-s.Settle)
	var out []*v1.AccessEntry
	for i := range list.Items {
		ae := &list.Items[i]
		st := &ae.Status
		if st.Identity == nil || st.Identity.ClusterName != key.Cluster || st.Identity.Region != key.Region || st.RoleARN != key.RoleARN ||
			st.LastVerifiedAt == nil || st.LastVerifiedAt.After(settled) || !ae.DeletionTimestamp.IsZero() {
			continue
		}
		if c := meta.FindStatusCondition(st.Conditions, v1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != ae.Generation {
			continue
		}
		out = append(out, ae)
	}
	return out
}

// updateGauges sets the age of the least recently verified Ready entry and the
// work waiting for each account's budget.
func (s *Sweeper) updateGauges(ctx context.Context) {
	list := &v1.AccessEntryList{}
	if err := s.Client.List(ctx, list, client.UnsafeDisableDeepCopy); err == nil {
		oldest := time.Duration(0)
		for i := range list.Items {
			if at := list.Items[i].Status.LastVerifiedAt; at != nil {
				oldest = max(oldest, time.Since(at.Time))
			}
		}
		oldestVerification.Set(oldest.Seconds())
	}
	if b := s.AWS.Budget(); b != nil {
		for key, n := range b.Queued() {
			budgetWaiting.WithLabelValues(key.Account, key.Region, budget.Foreground.String()).Set(float64(n[0]))
			budgetWaiting.WithLabelValues(key.Account, key.Region, budget.Background.String()).Set(float64(n[1]))
			budgetWaiting.WithLabelValues(key.Account, key.Region, budget.Revocation.String()).Set(float64(n[2]))
		}
	}
}
