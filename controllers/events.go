package controllers

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
)

// EventOptions configure the event reader.
type EventOptions struct {
	// QueueURL is the SQS queue EventBridge delivers EKS's CloudTrail events to;
	// empty: no events, drift is found by the sweeps and verification alone.
	QueueURL string
	// QueueRegion is the queue's region, when its URL does not say.
	QueueRegion string
	// MaxDelay is how late the event of one of the operator's own writes may be,
	// with no other event of its account and region in between, before events of
	// that account and region are taken as not arriving.
	MaxDelay time.Duration
	// ProbeAfter is how long an account and region may go without an event
	// before the operator makes a write that changes nothing (it removes a tag no
	// entry carries), whose event shows the way from EKS to the queue is open.
	ProbeAfter time.Duration
	// DownAfter is how long the queue may go without a successful receive (a
	// long poll lasts 20 s) before no events are taken as arriving at all.
	DownAfter time.Duration
}

// DefaultEventOptions are the flags' defaults.
func DefaultEventOptions() EventOptions {
	return EventOptions{MaxDelay: 5 * time.Minute, ProbeAfter: 10 * time.Minute, DownAfter: 45 * time.Second}
}

// Validate names the flags that hold values the reader cannot work with.
func (o EventOptions) Validate() error {
	if o.QueueURL == "" {
		return nil
	}
	return errors.Join(positive("--events-max-delay", o.MaxDelay, "5m"), positive("--events-probe-interval", o.ProbeAfter, "10m"),
		positive("the queue's down-after time", o.DownAfter, "45s"))
}

// EventsFlow says whether EKS's events of an account and region reach the
// operator now: while they do, the sweeps and verification are only a backstop
// for lost events and run at their longer periods.
type EventsFlow interface {
	Flowing(account, region string) bool
}

// probeTag starts the tag key the probe removes, which no entry carries. Each
// probe adds 16 random letters and digits, so that a forged copy of its event cannot
// be made before it, and count as a sign that events arrive.
const probeTag = "eksaccess.io/events-probe-"

// receiveWait is SQS's longest long poll.
const receiveWait = 20 * time.Second

// accountRegion is where events come from: EventBridge delivers per account and region.
type accountRegion struct{ account, region string }

// EventReader reads EKS's CloudTrail events from an SQS queue and sends each
// one where it matters: the AccessEntries of the entry it names are verified at
// once (foreground work, as drift a sweep finds), and a principal no
// AccessEntry declares, on a cluster whose ClusterAccessConfig deletes unmanaged
// entries, is judged by that config at once. Events of the operator's own writes
// cost nothing. An event only says where to look: duplicates, late and
// reordered copies cost at most one read, and one that cannot be read is logged
// and dropped. Only the leader reads.
type EventReader struct {
	EventOptions
	// Client reads AccessEntries and ClusterAccessConfigs (the cache).
	Client   client.Reader
	AWS      *awsapi.Clients
	Queue    awsapi.Queue
	Suspects *Suspects
	// Prunes starts a ClusterAccessConfig's decision on one principal.
	Prunes *PruneHints
	// Sweeper knows the clusters this instance's entries live in (for probes).
	Sweeper *Sweeper
	// DefaultRegion is the region of objects and configs without spec.region.
	DefaultRegion string

	mu        sync.Mutex
	lastOK    time.Time // the last receive that succeeded
	pollSince time.Time // when the receive under way began; zero between receives
	down      bool      // as last logged
	lastEvent map[accountRegion]time.Time
	lastProbe map[accountRegion]time.Time
	flowing   map[accountRegion]bool // as last logged
}

// NeedLeaderElection: only the leader reconciles, so only it reads events.
func (r *EventReader) NeedLeaderElection() bool { return true }

// Flowing: the queue answers, an event of the account and region has arrived,
// and no write of the operator's there waits for its event beyond MaxDelay.
func (r *EventReader) Flowing(account, region string) bool {
	if r == nil {
		return false
	}
	ar := accountRegion{account, region}
	r.mu.Lock()
	up, seen := r.upLocked(time.Now()), !r.lastEvent[ar].IsZero()
	r.mu.Unlock()
	first := r.AWS.Unconfirmed(account, region)
	return up && seen && (first.IsZero() || time.Since(first) <= r.MaxDelay)
}

// Start reads the queue until ctx ends: long polls, each batch handled then
// deleted. A queue that fails is retried with backoff; meanwhile the sweeps run
// at their no-events periods.
func (r *EventReader) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("events")
	ctx = ctrl.LoggerInto(ctx, log)
	r.mu.Lock()
	r.lastEvent, r.lastProbe, r.flowing = map[accountRegion]time.Time{}, map[accountRegion]time.Time{}, map[accountRegion]bool{}
	r.mu.Unlock()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { r.watch(ctx) })
	backoff := time.Second
	for ctx.Err() == nil {
		r.polling(time.Now())
		msgs, err := r.Queue.Receive(ctx, receiveWait)
		r.polling(time.Time{})
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			log.V(1).Info("receiving events failed", "error", err.Error())
			r.noteQueue(ctx, err)
			sleep(ctx, jitter(backoff, 0.2))
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		r.noteQueue(ctx, nil)
		for _, m := range msgs {
			r.handle(ctx, m)
		}
		if err := r.Queue.Delete(ctx, msgs); err != nil && ctx.Err() == nil {
			log.V(1).Info("deleting events failed; they come back and are read again", "error", err.Error())
		}
	}
	return nil
}

// polling records when a receive began (zero: it ended).
func (r *EventReader) polling(since time.Time) {
	r.mu.Lock()
	r.pollSince = since
	r.mu.Unlock()
}

// upLocked says whether the queue answers: a receive succeeded within
// DownAfter, or a long poll begun then still waits (a queue with nothing to
// give answers only after receiveWait). r.mu is held.
func (r *EventReader) upLocked(now time.Time) bool {
	if now.Sub(r.lastOK) < r.DownAfter {
		return true
	}
	return !r.pollSince.IsZero() && r.pollSince.Sub(r.lastOK) < r.DownAfter && now.Sub(r.pollSince) < receiveWait+r.DownAfter
}

// noteQueue records a receive's outcome, and logs when the queue stops or
// starts answering.
func (r *EventReader) noteQueue(ctx context.Context, err error) {
	r.mu.Lock()
	if err == nil {
		r.lastOK = time.Now()
	}
	down := !r.upLocked(time.Now())
	changed := down != r.down
	r.down = down
	r.mu.Unlock()
	up := 0.0
	if !down {
		up = 1
	}
	eventsQueueUp.Set(up)
	if !changed {
		return
	}
	log := ctrl.LoggerFrom(ctx)
	if down {
		log.Info("the events queue does not answer; drift is found by the sweeps at their no-events periods until it does",
			"queue", r.QueueURL, "error", fmt.Sprint(err))
	} else {
		log.Info("the events queue answers again", "queue", r.QueueURL)
	}
}

// handle sends one message's event where it matters.
func (r *EventReader) handle(ctx context.Context, m awsapi.QueueMessage) {
	eventsReceived.Inc()
	ev, err := awsapi.ParseEvent(m.Body)
	switch {
	case errors.Is(err, awsapi.ErrNotAccessEntryWrite):
		eventsHandled.WithLabelValues("ignored").Inc()
		return
	case err != nil:
		eventsHandled.WithLabelValues("unparseable").Inc()
		ctrl.LoggerFrom(ctx).Info("dropped a message of the events queue that is not an EKS CloudTrail event", "messageID", m.ID, "error", err.Error())
		return
	}
	own := r.AWS.OwnWrite(ev)
	switch {
	case own:
		// Only a write the operator made shows that events arrive: anyone who
		// may send to the queue can forge the others.
		r.arrived(ev)
		eventsHandled.WithLabelValues("own").Inc()
	case ev.Failed:
		eventsHandled.WithLabelValues("ignored").Inc() // EKS refused it: nothing changed
	default:
		eventsHandled.WithLabelValues(r.dispatch(ctx, ev)).Inc()
	}
}

// arrived notes that events of the event's account and region reach the queue:
// the event is of a write the operator made there.
func (r *EventReader) arrived(ev awsapi.Event) {
	r.AWS.EventArrived(ev.Account, ev.Region)
	r.mu.Lock()
	r.lastEvent[accountRegion{ev.Account, ev.Region}] = time.Now()
	r.mu.Unlock()
}

// dispatch verifies the AccessEntries of the entry an event names, and starts
// the pruning decision on its principal unless one of them holds the entry,
// spelled as the event spells it (an object refused, or not yet created, or of
// another letter case, shields nothing it does not hold; the decision judges
// that as every pruning pass does). It returns the outcome for
// the metric.
func (r *EventReader) dispatch(ctx context.Context, ev awsapi.Event) string {
	objs := r.objectsOf(ctx, ev)
	for _, ae := range objs {
		r.Suspects.MarkByEvent(ae.UID, client.ObjectKeyFromObject(ae))
	}
	// An object holds the entry an event names only under the same spelling:
	// EKS may keep an entry for each letter case of a principal, and pruning
	// judges each as it is spelled.
	held := slices.ContainsFunc(objs, func(ae *v1.AccessEntry) bool {
		id := ae.Status.Identity
		return id != nil && ae.Status.AccessEntryARN != "" && (ev.Principal == "" || id.PrincipalARN == ev.Principal)
	})
	judged := ev.Principal != "" && !held && r.Prunes.Judge(ctx, r, ev)
	switch {
	case len(objs) > 0:
		ctrl.LoggerFrom(ctx).V(1).Info("an event names a managed entry: verifying it", "event", ev.Name, "cluster", ev.Cluster,
			"principal", ev.Principal, "actor", ev.Actor, "objects", len(objs), "pruningDecision", judged)
		return "matched"
	case judged:
		return "unmanaged"
	}
	return "ignored"
}

// objectsOf are the AccessEntries whose entry the event names: by the
// principal (status's identity, or spec's before an entry exists), or, for a
// tag write, by the entry's ARN.
func (r *EventReader) objectsOf(ctx context.Context, ev awsapi.Event) []*v1.AccessEntry {
	list := &v1.AccessEntryList{}
	match := client.MatchingFields{clusterNameField: ev.Cluster}
	if ev.Principal != "" {
		match = client.MatchingFields{principalField: principalKey(ev.Cluster, ev.Principal)}
	}
	if err := r.Client.List(ctx, list, match, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var out []*v1.AccessEntry
	for i := range list.Items {
		if ae := &list.Items[i]; r.names(ctx, ae, ev) {
			out = append(out, ae)
		}
	}
	return out
}

// names says whether an event is about an object's entry.
func (r *EventReader) names(ctx context.Context, ae *v1.AccessEntry, ev awsapi.Event) bool {
	if id := ae.Status.Identity; id != nil {
		if ev.Resource != "" {
			return ae.Status.AccessEntryARN == ev.Resource
		}
		return id.ClusterName == ev.Cluster && id.Region == ev.Region && strings.EqualFold(id.PrincipalARN, ev.Principal) &&
			r.accountOf(ctx, ae.Status.RoleARN, id.Region) == ev.Account
	}
	region := ae.Spec.Region
	if region == "" {
		region = r.DefaultRegion
	}
	return ev.Resource == "" && ae.Spec.ClusterName == ev.Cluster && region == ev.Region && strings.EqualFold(ae.Principal(), ev.Principal)
}

// accountOf is the account a role reaches, or the operator's own in region.
func (r *EventReader) accountOf(ctx context.Context, roleARN, region string) string {
	if account, ok := awsarn.AccountOf(roleARN); ok {
		return account
	}
	account, _, err := r.AWS.Account(ctx, awsapi.Target{Region: region})
	if err != nil {
		return ""
	}
	return account
}

// watch probes quiet accounts and regions and logs when one's events stop or
// start arriving.
func (r *EventReader) watch(ctx context.Context) {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for ar, t := range r.targets(ctx) {
			r.probe(ctx, ar, t)
			r.logFlow(ctx, ar)
		}
	}
}

// probeTarget is a cluster to probe an account and region through, and an
// entry there.
type probeTarget struct {
	target   awsapi.Target
	entryARN string
}

// targets are the accounts and regions this instance's entries live in, each
// with one entry of this instance to probe through.
func (r *EventReader) targets(ctx context.Context) map[accountRegion]probeTarget {
	out := map[accountRegion]probeTarget{}
	r.Sweeper.targets.Range(func(k, v any) bool {
		key, t := k.(sweepKey), v.(awsapi.Target)
		ar := accountRegion{r.accountOf(ctx, t.RoleARN, t.Region), t.Region}
		if _, ok := out[ar]; ok || ar.account == "" {
			return true
		}
		for _, ae := range r.Sweeper.watchedEntries(ctx, key) {
			if ae.Status.AccessEntryARN != "" {
				out[ar] = probeTarget{target: t, entryARN: ae.Status.AccessEntryARN}
				break
			}
		}
		return true
	})
	return out
}

// probe makes the write that changes nothing in an account and region whose
// events have been quiet for ProbeAfter, once per ProbeAfter: its event (the
// operator's own, costing no read) shows the way is open; its absence, after
// MaxDelay, that it is not.
func (r *EventReader) probe(ctx context.Context, ar accountRegion, pt probeTarget) {
	r.mu.Lock()
	quiet := time.Since(r.lastEvent[ar]) >= r.ProbeAfter && time.Since(r.lastProbe[ar]) >= r.ProbeAfter && r.upLocked(time.Now())
	r.mu.Unlock()
	if !quiet {
		return
	}
	if err := r.AWS.For(pt.target).Untag(ctx, pt.entryARN, []string{probeTag + rand.Text()[:16]}); err != nil {
		ctrl.LoggerFrom(ctx).V(1).Info("the events probe failed; tried again shortly", "account", ar.account, "region", ar.region, "error", err.Error())
		return
	}
	eventsProbes.Inc()
	r.mu.Lock()
	r.lastProbe[ar] = time.Now()
	r.mu.Unlock()
}

// logFlow logs, and sets the gauge, when events of an account and region start
// or stop arriving.
func (r *EventReader) logFlow(ctx context.Context, ar accountRegion) {
	flowing := r.Flowing(ar.account, ar.region)
	v := 0.0
	if flowing {
		v = 1
	}
	eventsFlowing.WithLabelValues(ar.account, ar.region).Set(v)
	r.mu.Lock()
	was, known := r.flowing[ar]
	r.flowing[ar] = flowing
	r.mu.Unlock()
	switch {
	case flowing && !was:
		ctrl.LoggerFrom(ctx).Info("events arrive; the sweeps and verification run at their events periods", "account", ar.account, "region", ar.region)
	case !flowing && was && known:
		ctrl.LoggerFrom(ctx).Info("events of an account and region stopped arriving (a write's event is overdue, or the queue does not answer); the sweeps and verification run at their no-events periods",
			"account", ar.account, "region", ar.region, "maxDelay", r.MaxDelay.String())
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// PruneHints are the principals events named on clusters whose
// ClusterAccessConfig deletes unmanaged entries: the config's next pass judges
// them at once, and only them unless its full pass is due. Past hintCap
// principals a config's hints overflow: its next pass lists the cluster
// instead, so that events naming principals EKS does not hold (forged ones,
// say) cost one listing, not a read each.
type PruneHints struct {
	hints sync.Map // config name -> *principalSet
	queue queueRef
}

// hintCap is how many principals a config's hints hold before they overflow:
// past it, one listing of up to 100 entries costs less than reading each.
const hintCap = 25

type principalSet struct {
	mu       sync.Mutex
	set      map[string]bool
	overflow bool
}

// NewPruneHints returns no hints.
func NewPruneHints() *PruneHints { return &PruneHints{} }

// Judge queues the event's principal for each ClusterAccessConfig of its
// cluster that deletes unmanaged entries; false when there is none.
func (h *PruneHints) Judge(ctx context.Context, r *EventReader, ev awsapi.Event) bool {
	if h == nil {
		return false
	}
	list := &v1.ClusterAccessConfigList{}
	if err := r.Client.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return false
	}
	queued := false
	for i := range list.Items {
		cac := &list.Items[i]
		region := cac.Spec.Region
		if region == "" {
			region = r.DefaultRegion
		}
		if cac.Spec.ClusterName != ev.Cluster || region != ev.Region || cac.Spec.UnmanagedEntries.Policy != v1.UnmanagedDelete ||
			!cac.DeletionTimestamp.IsZero() || r.accountOf(ctx, cac.Spec.RoleARN, region) != ev.Account {
			continue
		}
		h.add(cac, []string{ev.Principal})
		queued = true
	}
	return queued
}

// add queues principals for a config's judgement.
func (h *PruneHints) add(cac *v1.ClusterAccessConfig, principals []string) {
	if h == nil {
		return
	}
	waiting := false
	for {
		v, _ := h.hints.LoadOrStore(cac.Name, &principalSet{set: map[string]bool{}})
		s := v.(*principalSet)
		s.mu.Lock()
		waiting = s.overflow
		for _, p := range principals {
			if len(s.set) >= hintCap && !s.set[p] {
				s.overflow = true
				continue
			}
			s.set[p] = true
		}
		s.mu.Unlock()
		// take may have removed the set before this wrote to it: write again.
		if cur, ok := h.hints.Load(cac.Name); ok && cur == v {
			break
		}
	}
	if !waiting { // an overflowed set's full pass is queued already
		h.queue.addAs(ctrl.Request{NamespacedName: client.ObjectKeyFromObject(cac)}, prioritySuspect, 0)
	}
}

// overflowed marks a config's hints as overflowing, so that a pass lists its
// cluster after d.
func (h *PruneHints) overflowed(cac *v1.ClusterAccessConfig, d time.Duration) {
	v, _ := h.hints.LoadOrStore(cac.Name, &principalSet{set: map[string]bool{}})
	s := v.(*principalSet)
	s.mu.Lock()
	s.overflow = true
	s.mu.Unlock()
	h.queue.addAfter(ctrl.Request{NamespacedName: client.ObjectKeyFromObject(cac)}, d)
}

// take returns and forgets the principals hinted for a config (nil when none),
// and whether more were hinted than it holds.
func (h *PruneHints) take(name string) (principals []string, overflow bool) {
	if h == nil {
		return nil, false
	}
	v, ok := h.hints.LoadAndDelete(name)
	if !ok {
		return nil, false
	}
	s := v.(*principalSet)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.set))
	for p := range s.set {
		out = append(out, p)
	}
	return out, s.overflow
}
