package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
)

// eventsQueue is the queue the emulator publishes EKS's events to.
const eventsQueue = "eks-access-events"

// The operator's defaults for the backstop while events flow (main.go's
// --events-* flags); the run passes them only when --events-* overrides them.
const (
	defaultEventsSweep   = 15 * time.Minute
	defaultEventsWatched = 10 * time.Minute
	defaultEventsVerify  = 24 * time.Hour
)

// EventsRun is what the events benchmark measured beyond converging.
type EventsRun struct {
	DelaySeconds         float64 `json:"delaySeconds"`
	MaxExtraDelaySeconds float64 `json:"maxExtraDelaySeconds"`
	// The backstop periods in force while events flow.
	SweepSeconds        float64 `json:"sweepSeconds"`
	WatchedSweepSeconds float64 `json:"watchedSweepSeconds"`
	VerifySeconds       float64 `json:"verifySeconds"`
	// VerificationReads is one full verification: a describe of every entry and
	// a policy listing of each that holds policies.
	VerificationReads int      `json:"verificationReads"`
	Changes           []Change `json:"changes"`
	// Loss is the run with a share of events lost, under shorter backstop periods.
	Loss LossRun `json:"loss"`
}

// LossRun is the part of the run in which events were lost.
type LossRun struct {
	Share               float64  `json:"share"`
	SweepSeconds        float64  `json:"sweepSeconds"`
	WatchedSweepSeconds float64  `json:"watchedSweepSeconds"`
	VerifySeconds       float64  `json:"verifySeconds"`
	BackgroundQPS       float64  `json:"backgroundQPS"`
	Changes             []Change `json:"changes"`
}

// Change is one out-of-band change and when it was put back.
type Change struct {
	Kind  string `json:"kind"`
	Entry string `json:"entry"`
	// Lost: no event of its writes was delivered.
	Lost bool `json:"lost"`
	// Seconds from the change to its first event's delivery, and to EKS holding
	// the spec again.
	DeliveredAfter float64 `json:"deliveredAfter"`
	RevertedAfter  float64 `json:"revertedAfter"`
	// Backstop is the period within which a change whose events were lost is
	// found: the sweep's for a deletion, the watched sweep's for an admin
	// holder, the verification's for the rest.
	BackstopSeconds float64 `json:"backstopSeconds"`
}

// sinceDelivery is how long after its event's delivery the change was put back.
func (c Change) sinceDelivery() float64 { return c.RevertedAfter - c.DeliveredAfter }

// eventsPeriods are the backstop periods the operator runs with while events flow.
func (o options) eventsPeriods() (sweep, watched, verify time.Duration) {
	return cmp.Or(o.eventsSweep, defaultEventsSweep), cmp.Or(o.eventsWatched, defaultEventsWatched), cmp.Or(o.eventsVerify, defaultEventsVerify)
}

// eventsArgs are the operator's flags for reading the emulator's queue.
func (o options) eventsArgs(queueURL string) []string {
	args := []string{"--events-queue-url=" + queueURL}
	for flag, v := range map[string]time.Duration{"--events-sweep-period": o.eventsSweep, "--events-watched-sweep-period": o.eventsWatched,
		"--events-verification-period": o.eventsVerify} {
		if v > 0 {
			args = append(args, flag+"="+v.String())
		}
	}
	return args
}

// withTags gives the STANDARD entries a tag, so that a tag change has one to undo.
func withTags(entries []*v1.AccessEntry) {
	for i, ae := range entries {
		if ae.Spec.Type == v1.TypeStandard {
			ae.Spec.Tags = map[string]v1.TagValue{"team": v1.TagValue("team-" + strconv.Itoa(i%50))}
		}
	}
}

// eventsQuiet measures steady state with events flowing: a window at least as
// long as the backstop sweep's period with nothing changed, plus a full
// verification spread over its period (verification is due a whole period
// after converging, so no window this short sees it).
func (b *bench) eventsQuiet(context.Context) error {
	sweep, _, verify := b.o.eventsPeriods()
	window := max(b.o.steady, sweep+time.Minute)
	ev := b.res.Events
	for _, ae := range b.entries {
		ev.VerificationReads++
		if ae.Spec.Type.ListsPolicies() {
			ev.VerificationReads++
		}
	}
	say("steady state with events: %s with nothing changed (a sweep every %s, a verification of %d reads every %s)", window, sweep, ev.VerificationReads, verify)
	b.emu.ResetCalls()
	start := time.Now()
	time.Sleep(window)
	b.res.Quiet = phase(b.emu, time.Since(start))
	b.res.SteadyCallsPerSecond = float64(b.res.Quiet.Total)/b.res.Quiet.Seconds + float64(ev.VerificationReads)/verify.Seconds()
	return nil
}

// eventsHeal makes --heals changes of each kind at random moments and times
// each one's repair from its event's delivery.
func (b *bench) eventsHeal(ctx context.Context) error {
	if err := b.pruningConfig(ctx); err != nil {
		return err
	}
	say("out-of-band changes with events: %d of each kind (%s) at random moments over a minute", b.o.heals, kindNames())
	changes, err := b.outOfBand(ctx, b.o.heals, time.Minute, nil)
	b.res.Events.Changes = changes
	return err
}

// eventsLoss restarts the operator with shorter backstop periods, loses a share
// of events, and checks that every change whose events were lost is still
// found by the backstop: a sweep, a watched sweep or a verification.
func (b *bench) eventsLoss(ctx context.Context) error {
	if b.o.lossChanges == 0 {
		return nil
	}
	l := &b.res.Events.Loss
	l.Share = b.o.eventsLoss
	reads := b.res.Events.VerificationReads
	// Short backstop periods, so that the verification's finds show within the
	// run: the sweeps spend at most about half a call a second (a listing page
	// every 6 s per 100 entries), and the verification most of the rest, with
	// its period an eighth longer than a round takes at that pace.
	l.BackgroundQPS = 0.85 * b.o.rate
	round := time.Duration(float64(reads) / l.BackgroundQPS * float64(time.Second))
	verify := max(10*time.Minute, round*9/8).Truncate(time.Minute) + time.Minute
	sweep := max(3*time.Minute, time.Duration(b.o.entries/100)*6*time.Second)
	watched := max(2*time.Minute, sweep/2)
	l.SweepSeconds, l.WatchedSweepSeconds, l.VerifySeconds = sweep.Seconds(), watched.Seconds(), verify.Seconds()
	say("events lost: %.0f%% of them, %d changes of each kind over 2 minutes, backstop sweep %s, watched %s, verification %s at %g/s",
		100*l.Share, b.o.lossChanges, sweep, watched, verify, l.BackgroundQPS)
	b.w.StopOperator()
	// The no-events periods the same: a period shorter with events than without
	// is refused, and until the first event arrives the no-events ones hold.
	// An unmanaged entry whose event is lost is found by the config's next
	// full pass (--resync-period), not by a sweep: that period is the watched
	// sweep's here.
	if err := b.w.StartOperator(append(slices.Clone(b.eventsArgs), "--events-sweep-period="+sweep.String(), "--events-watched-sweep-period="+watched.String(),
		"--events-verification-period="+verify.String(), "--sweep-period="+sweep.String(), "--watched-sweep-period="+watched.String(),
		"--verification-period="+verify.String(), "--resync-period="+watched.String(), "--background-qps="+strconv.FormatFloat(l.BackgroundQPS, 'f', -1, 64))...); err != nil {
		return err
	}
	cfg := b.emu.Events()
	cfg.Loss = l.Share
	b.emu.SetEvents(cfg)
	defer func() { cfg.Loss = 0; b.emu.SetEvents(cfg) }()
	backstop := map[string]time.Duration{"deletion": sweep, "unmanaged admin entry": watched}
	changes, err := b.outOfBand(ctx, b.o.lossChanges, 2*time.Minute, func(kind string) time.Duration {
		return cmp.Or(backstop[kind], verify)
	})
	l.Changes = changes
	return err
}

// pruningConfig makes the cluster's ClusterAccessConfig delete unmanaged entries.
func (b *bench) pruningConfig(ctx context.Context) error {
	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cluster},
		Spec: v1.ClusterAccessConfigSpec{ClusterName: cluster, UnmanagedEntries: v1.UnmanagedEntries{Policy: v1.UnmanagedDelete}}}
	if err := b.k8s.Create(ctx, cac); err != nil {
		return err
	}
	for start := time.Now(); time.Since(start) < 2*time.Minute; time.Sleep(time.Second) {
		if err := b.k8s.Get(ctx, client.ObjectKeyFromObject(cac), cac); err != nil {
			return err
		}
		if c := cac.Status.Conditions; len(c) > 0 && slices.ContainsFunc(c, func(c metav1.Condition) bool {
			return c.Type == v1.ConditionReady && c.Status == metav1.ConditionTrue
		}) {
			return nil
		}
	}
	return errors.New("the ClusterAccessConfig was not Ready within 2 minutes")
}

// oneChange is a kind of out-of-band change: which entries it applies to, the
// writes that make it (how many), and when EKS holds the spec again.
type oneChange struct {
	kind   string
	fits   func(*v1.AccessEntry) bool
	writes int
	make   func(ctx context.Context, c *eks.Client, ae *v1.AccessEntry) error
	healed func(emu *eksemulator.Server, ae *v1.AccessEntry) bool
	// written is the principal whose entry the writes change; nil: the entry's.
	written func(ae *v1.AccessEntry) string
}

func kindNames() string {
	var names []string
	for _, k := range changeKinds() {
		names = append(names, k.kind)
	}
	return fmt.Sprint(names)
}

// outOfBand makes n changes of each kind, each at a random moment within
// spread, on entries no other change touches, and waits until all are put
// back. backstop, when set, is the period within which a change whose events
// were all lost must be found.
func (b *bench) outOfBand(ctx context.Context, n int, spread time.Duration, backstop func(kind string) time.Duration) ([]Change, error) {
	eksAdmin := adminClient(b.emu)
	used := map[string]bool{}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		changes []Change
		errs    []error
	)
	for _, k := range changeKinds() {
		// A change whose events are lost waits for its backstop: the wait must
		// outlast it (a verification of 10,000 entries takes 40 minutes).
		var found time.Duration
		if backstop != nil {
			found = backstop(k.kind)
		}
		limit := max(30*time.Minute, found+5*time.Minute)
		for _, ae := range b.pick(k, n, used) {
			delay := time.Duration(b.rng.Int64N(int64(spread)))
			wg.Go(func() {
				c, err := b.timeChange(ctx, eksAdmin, k, ae, delay, limit)
				c.BackstopSeconds = found.Seconds()
				mu.Lock()
				defer mu.Unlock()
				changes = append(changes, c)
				errs = append(errs, err)
			})
		}
	}
	wg.Wait()
	slices.SortFunc(changes, func(a, b Change) int { return strings.Compare(a.Kind+a.Entry, b.Kind+b.Entry) })
	return changes, errors.Join(errs...)
}

// pick chooses n entries a kind of change fits that no other change took.
func (b *bench) pick(k oneChange, n int, used map[string]bool) []*v1.AccessEntry {
	var out []*v1.AccessEntry
	for _, i := range b.rng.Perm(len(b.entries)) {
		if ae := b.entries[i]; len(out) < n && !used[ae.Name] && k.fits(ae) {
			used[ae.Name] = true
			out = append(out, ae)
		}
	}
	return out
}

// timeChange waits delay, makes the change, and waits until it is put back,
// at most limit; its writes in the emulator's journal tell when their events
// were delivered.
func (b *bench) timeChange(ctx context.Context, c *eks.Client, k oneChange, ae *v1.AccessEntry, delay, limit time.Duration) (Change, error) {
	time.Sleep(delay)
	out := Change{Kind: k.kind, Entry: ae.Name}
	at := time.Now()
	if err := k.make(ctx, c, ae); err != nil {
		return out, fmt.Errorf("%s of %s: %w", k.kind, ae.Name, err)
	}
	for time.Since(at) < limit {
		if k.healed(b.emu, ae) {
			out.RevertedAfter = time.Since(at).Seconds()
			principal := ae.Spec.PrincipalARN
			if k.written != nil {
				principal = k.written(ae)
			}
			delivered := b.delivered(principal, at, k.writes)
			out.Lost = delivered.IsZero()
			if !out.Lost {
				out.DeliveredAfter = delivered.Sub(at).Seconds()
			}
			return out, nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return out, fmt.Errorf("%s of %s was not put back within %s", k.kind, ae.Name, limit)
}

// delivered is when the first event of the change's writes (the first n
// writes to the principal's entry from at) was delivered; zero when every one
// was lost.
func (b *bench) delivered(principal string, at time.Time, n int) time.Time {
	var first time.Time
	for _, w := range b.emu.Writes(principal) {
		if w.Time.Before(at.Add(-time.Second)) || n == 0 {
			continue
		}
		n--
		if !w.Event.IsZero() && (first.IsZero() || w.Event.Before(first)) {
			first = w.Event
		}
	}
	return first
}

// changeKinds are the out-of-band changes the events run makes: each kind the
// issue names.
func changeKinds() []oneChange {
	standard := func(ae *v1.AccessEntry) bool { return ae.Spec.Type == v1.TypeStandard }
	secretAdmin := "arn:aws:eks::aws:cluster-access-policy/AmazonEKSSecretAdminPolicy"
	return []oneChange{
		{kind: "deletion", fits: func(*v1.AccessEntry) bool { return true }, writes: 1,
			make: func(ctx context.Context, c *eks.Client, ae *v1.AccessEntry) error {
				_, err := c.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(ae.Spec.PrincipalARN)})
				return err
			},
			healed: func(emu *eksemulator.Server, ae *v1.AccessEntry) bool {
				_, held := entryOf(emu, account, cluster, ae.Spec.PrincipalARN)
				return held
			}},
		{kind: "unwatched policy", fits: standard, writes: 1,
			make: func(ctx context.Context, c *eks.Client, ae *v1.AccessEntry) error {
				return associate(ctx, c, ae.Spec.PrincipalARN, secretAdmin)
			},
			healed: holding(func(_ *v1.AccessEntry, e eksemulator.Entry) bool { return !holds(e, secretAdmin) })},
		{kind: "groups and username", fits: standard, writes: 1,
			make: func(ctx context.Context, c *eks.Client, ae *v1.AccessEntry) error {
				_, err := c.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(ae.Spec.PrincipalARN),
					KubernetesGroups: []string{"cluster-admins"}, Username: aws.String("intruder")})
				return err
			},
			healed: holding(func(ae *v1.AccessEntry, e eksemulator.Entry) bool {
				return e.Username != "intruder" && slices.Equal(e.KubernetesGroups, groupsOf(ae))
			})},
		{kind: "scope widened", fits: func(ae *v1.AccessEntry) bool { return namespaced(ae) != nil }, writes: 1,
			make: func(ctx context.Context, c *eks.Client, ae *v1.AccessEntry) error {
				return associate(ctx, c, ae.Spec.PrincipalARN, namespaced(ae).PolicyARN)
			},
			healed: holding(func(ae *v1.AccessEntry, e eksemulator.Entry) bool {
				return slices.ContainsFunc(e.Policies, func(p eksemulator.Policy) bool {
					return p.PolicyARN == namespaced(ae).PolicyARN && p.ScopeType == "namespace"
				})
			})},
		{kind: "tags", fits: func(ae *v1.AccessEntry) bool { return ae.Spec.Tags["team"] != "" }, writes: 1,
			make: func(ctx context.Context, c *eks.Client, ae *v1.AccessEntry) error {
				out, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(ae.Spec.PrincipalARN)})
				if err != nil {
					return err
				}
				_, err = c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: out.AccessEntry.AccessEntryArn, Tags: map[string]string{"team": "intruders"}})
				return err
			},
			healed: holding(func(ae *v1.AccessEntry, e eksemulator.Entry) bool {
				return e.Tags["team"] == string(ae.Spec.Tags["team"])
			})},
		unmanagedAdmin(),
	}
}

// unmanagedAdmin is an entry nobody declared (the principal is an entry's with
// "-intruder" appended) holding Admin on the whole cluster: the
// ClusterAccessConfig deletes it. (Admin, not ClusterAdmin: an entry holding
// ClusterAdmin made within 15 minutes of its cluster is taken for the creator's.)
func unmanagedAdmin() oneChange {
	admin := "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy"
	intruder := func(ae *v1.AccessEntry) string { return ae.Spec.PrincipalARN + "-intruder" }
	return oneChange{kind: "unmanaged admin entry", fits: func(*v1.AccessEntry) bool { return true }, writes: 2, written: intruder,
		make: func(ctx context.Context, c *eks.Client, ae *v1.AccessEntry) error {
			if _, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(intruder(ae))}); err != nil {
				return err
			}
			if err := associate(ctx, c, intruder(ae), admin); err != nil && !awsapi.IsNotFound(err) {
				return err // not found: the creation's event had it deleted already
			}
			return nil
		},
		healed: func(emu *eksemulator.Server, ae *v1.AccessEntry) bool {
			_, held := entryOf(emu, account, cluster, intruder(ae))
			return !held
		}}
}

// holding is a check that the changed entry exists and satisfies ok.
func holding(ok func(*v1.AccessEntry, eksemulator.Entry) bool) func(*eksemulator.Server, *v1.AccessEntry) bool {
	return func(emu *eksemulator.Server, ae *v1.AccessEntry) bool {
		e, held := entryOf(emu, account, cluster, ae.Spec.PrincipalARN)
		return held && ok(ae, e)
	}
}

// associate associates a policy with the whole cluster.
func associate(ctx context.Context, c *eks.Client, principal, policy string) error {
	_, err := c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal),
		PolicyArn: aws.String(policy), AccessScope: &ekstypes.AccessScope{Type: ekstypes.AccessScopeTypeCluster}})
	return err
}

func holds(e eksemulator.Entry, policy string) bool {
	return slices.ContainsFunc(e.Policies, func(p eksemulator.Policy) bool { return p.PolicyARN == policy })
}

// groupsOf is the entry's groups as EKS returns them: sorted, never nil.
func groupsOf(ae *v1.AccessEntry) []string {
	out := []string{}
	for _, g := range ae.Spec.KubernetesGroups {
		out = append(out, string(g))
	}
	slices.Sort(out)
	return out
}

// namespaced is the entry's first namespace-scoped policy; nil when none.
func namespaced(ae *v1.AccessEntry) *v1.AccessPolicy {
	for i, p := range ae.Spec.AccessPolicies {
		if p.AccessScope.Type == v1.AccessScopeNamespace {
			return &ae.Spec.AccessPolicies[i]
		}
	}
	return nil
}

// eventsTargets are the events issue's targets.
func eventsTargets(r Result) []Target {
	var out []Target
	add := func(name string, met bool, format string, args ...any) {
		out = append(out, Target{Name: name, Met: met, Detail: fmt.Sprintf(format, args...)})
	}
	ev := r.Events
	steadyMax := 0.05
	if r.Entries >= 10000 {
		steadyMax = 0.1
	}
	if r.Entries >= 1000 { // the targets' sizes; a smaller run's periods are its own
		add(fmt.Sprintf("steady state at most %g EKS calls/s with events", steadyMax), r.SteadyCallsPerSecond <= steadyMax,
			"%.4f/s: %d calls in %.0fs measured, plus %d verification reads every %.0fs", r.SteadyCallsPerSecond, r.Quiet.Total, r.Quiet.Seconds, ev.VerificationReads, ev.VerifySeconds)
	}
	delivered := slices.DeleteFunc(slices.Concat(ev.Changes, ev.Loss.Changes), func(c Change) bool { return c.Lost })
	worst := 0.0
	for _, c := range delivered {
		worst = math.Max(worst, c.sinceDelivery())
	}
	add("each change reverted within 30s of its event's delivery", len(delivered) > 0 && worst <= 30,
		"%d changes whose event arrived, slowest %.1fs after delivery", len(delivered), worst)
	byKind := map[string]int{}
	for _, c := range ev.Changes {
		byKind[c.Kind]++
	}
	add("every kind of change made", len(byKind) == len(changeKinds()), "%v", byKind)
	add("no object Stalled by throttling", r.Stalled == 0, "%d seen Stalled", r.Stalled)
	if len(ev.Loss.Changes) == 0 {
		return out // no loss run (--loss-changes 0)
	}
	lost := slices.DeleteFunc(slices.Clone(ev.Loss.Changes), func(c Change) bool { return !c.Lost })
	late := 0
	for _, c := range lost {
		if c.RevertedAfter > c.BackstopSeconds+30 {
			late++
		}
	}
	add(fmt.Sprintf("with %g%% of events lost, every lost change found within its backstop period (+30s to put it back)", 100*ev.Loss.Share),
		len(lost) > 0 && late == 0, "%d of %d changes lost their events, %d late: %s", len(lost), len(ev.Loss.Changes), late, describeLost(lost))
	return out
}

func describeLost(lost []Change) string {
	if len(lost) == 0 {
		return "none lost, nothing shown"
	}
	s := ""
	for i, c := range lost {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %.0fs (backstop %.0fs)", c.Kind, c.RevertedAfter, c.BackstopSeconds)
	}
	return s
}

// eventsReport prints the events run.
func eventsReport(r Result) {
	ev := r.Events
	fmt.Printf("\nEKS access operator benchmark with events, %s, %s\n", r.Machine, r.Date)
	fmt.Printf("%d entries (%d STANDARD, %d policies), EKS limit %.0f/s burst %d, %dms per call\n", r.Entries, r.Standard, r.Policies, r.Rate, r.Burst, r.LatencyMS)
	fmt.Printf("events delivered %.0fs to %.0fs after their write\n\n", ev.DelaySeconds, ev.DelaySeconds+ev.MaxExtraDelaySeconds)
	fmt.Printf("converge: %.1fs, %d calls (%.2fx the floor time)\n", r.Converge.Seconds, r.Converge.Total, r.Ratio)
	fmt.Printf("steady state: %d calls in %.0fs %v, %d writes (probes); with a verification of %d reads every %.0fs: %.4f calls/s\n",
		r.Quiet.Total, r.Quiet.Seconds, r.Quiet.Calls, r.Quiet.Writes, ev.VerificationReads, ev.VerifySeconds, r.SteadyCallsPerSecond)
	fmt.Printf("backstop while events flow: sweep %.0fs, watched sweep %.0fs, verification %.0fs\n\n", ev.SweepSeconds, ev.WatchedSweepSeconds, ev.VerifySeconds)
	printChanges("changes, every event delivered", ev.Changes)
	if len(ev.Loss.Changes) > 0 {
		fmt.Printf("\nwith %.0f%% of events lost (backstop: sweep %.0fs, watched sweep %.0fs, verification %.0fs, --background-qps=%g):\n",
			100*ev.Loss.Share, ev.Loss.SweepSeconds, ev.Loss.WatchedSweepSeconds, ev.Loss.VerifySeconds, ev.Loss.BackgroundQPS)
		printChanges("changes", ev.Loss.Changes)
	}
	fmt.Println()
	printTargets(r.Targets)
}

// printChanges prints, per kind, how long after delivery the changes were put
// back, and the lost ones apart.
func printChanges(title string, changes []Change) {
	byKind := map[string][]Change{}
	for _, c := range changes {
		byKind[c.Kind] = append(byKind[c.Kind], c)
	}
	fmt.Printf("%s (seconds from delivery to reverted; lost: from the change):\n", title)
	for _, kind := range slices.Sorted(maps.Keys(byKind)) {
		var got, lost []string
		for _, c := range byKind[kind] {
			if c.Lost {
				lost = append(lost, strconv.FormatFloat(c.RevertedAfter, 'f', 0, 64))
				continue
			}
			got = append(got, strconv.FormatFloat(c.sinceDelivery(), 'f', 1, 64))
		}
		fmt.Printf("  %-22s %v", kind, got)
		if len(lost) > 0 {
			fmt.Printf("  lost: %v", lost)
		}
		fmt.Println()
	}
}
