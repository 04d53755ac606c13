// Package budget schedules EKS calls under EKS's rate limit, which is per account
// and region. Each account and region has a token bucket; work asks for the
// tokens it will spend and, when they are not there, is queued instead of
// waiting: the scheduler sets the tokens aside when they come and calls the
// work's Ready, which puts it back in the controller's queue. A worker is never
// parked on a limiter, so a busy or throttled account costs the others nothing.
//
// Within an account, taking access away (Revocation) comes before anything else;
// user-driven work (Foreground) comes next, taken in turn from each flow so that
// a large change in one cluster or namespace does not hold up a small one in
// another; background verification (Background) only gets tokens that no other
// work waits for, and no more than its own rate.
//
// The package imports nothing of Kubernetes or AWS: it is a clock, buckets and
// queues, tested with a fake clock. Calls are also paced as they are made
// (Pace), so that work granted apart never reaches EKS in a bunch.
package budget

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Key names a budget: one AWS account in one region.
type Key struct {
	Account string
	Region  string
}

// Class is how urgent a piece of work is.
type Class int

const (
	// Foreground is work a person or the spec asked for: creates, changes,
	// deletions, and healing drift a sweep found.
	Foreground Class = iota
	// Background is verification nobody waits for.
	Background
	// Revocation is taking away access a rule no longer allows: it goes ahead of
	// all other work, in the order it came. Callers keep it to what the workload
	// cannot bring about at will, or it would starve everyone else.
	Revocation
)

func (c Class) String() string {
	switch c {
	case Background:
		return "background"
	case Revocation:
		return "revocation"
	}
	return "foreground"
}

// rank orders the classes: lower goes first.
func (c Class) rank() int {
	switch c {
	case Revocation:
		return 0
	case Foreground:
		return 1
	}
	return 2
}

// Options configure a Scheduler.
type Options struct {
	// QPS and Burst are each account's budget in a region (--eks-qps, --eks-burst).
	QPS   float64
	Burst int
	// BackgroundQPS caps Background work per account and region; 0 allows none.
	BackgroundQPS float64
	// HoldFor is how long tokens set aside for a piece of work wait for it to
	// come and take them before they go back to the bucket (default 30s).
	HoldFor time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// WithDefaults fills what the flags leave to be derived: the background share
// (a tenth of QPS) when none is given, and HoldFor: tokens set aside for work
// that is slow to come and spend them go back after about one bucket's worth
// of time, since held longer they would let calls bunch beyond the burst EKS
// allows.
func (o Options) WithDefaults() Options {
	if o.BackgroundQPS == 0 {
		o.BackgroundQPS = o.QPS / 10
	}
	if o.HoldFor == 0 && o.QPS > 0 {
		o.HoldFor = max(time.Second, time.Duration(float64(max(o.Burst, 1))/o.QPS*float64(time.Second)))
	}
	return o
}

// Validate names the flag that holds a value the budget cannot work with.
func (o Options) Validate() error {
	var errs []error
	if o.QPS <= 0 {
		errs = append(errs, fmt.Errorf("--eks-qps is %g: it must be above 0 (EKS allows about 10 calls a second per account and region; the default is 10)", o.QPS))
	}
	if o.Burst < 1 {
		errs = append(errs, fmt.Errorf("--eks-burst is %d: it must be at least 1 (the default is 10)", o.Burst))
	}
	if o.BackgroundQPS < 0 {
		// Above --eks-qps it is allowed: the account's budget caps it anyway.
		errs = append(errs, fmt.Errorf("--background-qps is %g: it must not be negative; leave it out for a tenth of --eks-qps", o.BackgroundQPS))
	}
	return errors.Join(errs...)
}

// Scheduler hands out the tokens of every account's budget.
type Scheduler struct {
	opts Options
	now  func() time.Time

	mu      sync.Mutex
	budgets map[Key]*accountBudget
	// held are the tokens set aside for work that was queued, by work ID.
	held map[string]*holding
	// wake tells Run that something changed before its next planned grant.
	wake chan struct{}
}

// New returns a scheduler; Run must be running for queued work to be granted.
func New(opts Options) *Scheduler {
	if opts.HoldFor == 0 {
		opts.HoldFor = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Burst < 1 {
		opts.Burst = 1
	}
	return &Scheduler{opts: opts, now: opts.Now, budgets: map[Key]*accountBudget{}, held: map[string]*holding{}, wake: make(chan struct{}, 1)}
}

// Request is a piece of work that wants tokens.
type Request struct {
	Key Key
	// ID identifies the work (an object's namespace/name): one request per ID is
	// queued at a time, and the tokens set aside for it are only its own.
	ID string
	// Flow is what fairness is shared between within an account: a cluster.
	Flow  string
	Class Class
	// Tokens is how many calls the work expects to make (at least 1).
	Tokens int
	// Ready is called, outside the scheduler's lock, when the tokens are set
	// aside: it puts the work back in its queue.
	Ready func()
}

// Grant is tokens a piece of work holds. Its calls take from it first; Release
// gives back what was not spent.
type Grant struct {
	s    *Scheduler
	key  Key
	left int
	// Class is the class the tokens were granted for.
	Class Class
}

// Take spends one of the grant's tokens; false when none is left.
func (g *Grant) Take() bool {
	if g == nil || g.left == 0 {
		return false
	}
	g.left--
	return true
}

// Release gives the tokens the work did not spend back to the budget.
func (g *Grant) Release() {
	if g == nil || g.left == 0 {
		return
	}
	g.s.mu.Lock()
	b := g.s.budgetOf(g.key)
	b.refill(g.s.now(), g.s.opts)
	b.tokens = math.Min(b.tokens+float64(g.left), float64(g.s.opts.Burst))
	if g.Class == Background {
		b.bgTokens = math.Min(b.bgTokens+float64(g.left), bgBurst(g.s.opts))
	}
	g.left = 0
	g.s.mu.Unlock()
	g.s.poke()
}

// Wait is how a request that was not granted waits.
type Wait struct {
	// For is how long, about, until its tokens are set aside.
	For time.Duration
}

// Take grants the request's tokens now, when its tokens were set aside for it or
// the budget has them with nothing of its class waiting before it; otherwise it
// queues the request (or updates the one queued for its ID) and says how long it
// will wait. Foreground work takes the tokens Background work had set aside only
// if its own were: a request upgraded from Background keeps its place.
func (s *Scheduler) Take(r Request) (*Grant, *Wait) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// More than a bucket holds is never there at once: the rest is taken call by
	// call (TakeNow).
	r.Tokens = min(max(r.Tokens, 1), s.opts.Burst)
	if r.Class == Background {
		r.Tokens = min(r.Tokens, int(bgBurst(s.opts)))
	}
	now := s.now()
	if h := s.held[r.ID]; h != nil {
		delete(s.held, r.ID)
		if now.Before(h.expires) && h.key == r.Key {
			return &Grant{s: s, key: r.Key, left: h.tokens, Class: h.class}, nil
		}
		s.giveBack(h, now)
	}
	b := s.budgetOf(r.Key)
	b.refill(now, s.opts)
	if q := b.queued(r.ID); q == nil && b.canGrant(r.Class, r.Tokens, s.opts) && !b.waiting(r.Class) {
		b.spend(r.Class, r.Tokens)
		return &Grant{s: s, key: r.Key, left: r.Tokens, Class: r.Class}, nil
	}
	w := b.enqueue(r, now)
	s.poke()
	return nil, &Wait{For: b.estimate(w, now, s.opts)}
}

// Wait takes the request's tokens, waiting for them if it must: for goroutines
// of their own (sweeps), never for reconcile workers. r.Ready is not used. One
// goroutine at a time may wait with an ID: a second one's wake-up replaces the
// first's.
func (s *Scheduler) Wait(stop <-chan struct{}, r Request) *Grant {
	for {
		granted := make(chan struct{})
		var once sync.Once
		r.Ready = func() { once.Do(func() { close(granted) }) }
		g, _ := s.Take(r)
		if g != nil {
			return g
		}
		select {
		case <-stop:
			s.Forget(r.ID)
			return nil
		case <-granted:
		}
	}
}

// TakeNow spends n tokens of Foreground budget if the budget has them now,
// for a call made beyond what a grant holds. false when it would have to wait.
func (s *Scheduler) TakeNow(key Key, n int) bool { return s.TakeNowAs(key, n, Foreground) }

// TakeNowAs is TakeNow for work of a class: Background work never takes tokens
// past foreground work waiting for them (it would starve it: a thousand
// rechecks each making one call more than they were granted keep the bucket
// below what a waiting change needs).
func (s *Scheduler) TakeNowAs(key Key, n int, c Class) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.budgetOf(key)
	b.refill(s.now(), s.opts)
	if b.tokens < float64(n) || (c == Background && b.count(Foreground)+b.count(Revocation) > 0) ||
		(c == Foreground && b.count(Revocation) > 0) {
		return false
	}
	b.tokens -= float64(n)
	return true
}

// Throttled tells the scheduler EKS throttled a call of the account: its rate is
// cut to 70% (down to a tenth; a storm of throttles cuts it again and again),
// and grows back by a tenth of the configured rate for every 5 seconds without
// throttling. A single throttle, as when another tool spent part of the account's
// limit for a moment, so costs a few seconds, not a minute. Other accounts are
// not affected.
func (s *Scheduler) Throttled(key Key) {
	s.mu.Lock()
	b := s.budgetOf(key)
	now := s.now()
	b.refill(now, s.opts)
	b.factor = math.Max(b.factor*throttleCut, 0.1)
	b.throttledAt = now
	b.tokens = math.Min(b.tokens, 0)
	s.mu.Unlock()
}

// throttleCut is what a throttle leaves of an account's rate; recoverEvery is how
// often a tenth of the rate comes back after it.
const (
	throttleCut  = 0.7
	recoverEvery = 5 * time.Second
)

// Pace says how long a call of the account must wait so that calls reach EKS
// no faster than the account's rate and burst, however close together the work
// that makes them was granted; false when that is longer than within, and then
// the call is not counted. The wait is a fraction of a second: work is granted
// at the account's rate, so its calls only need spacing, not queuing.
func (s *Scheduler) Pace(key Key, within time.Duration) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.budgetOf(key)
	now := s.now()
	b.refill(now, s.opts)
	r := b.wire.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if !r.OK() || d > within {
		r.CancelAt(now)
		return 0, false
	}
	return d, true
}

// Forget drops what is queued or held for a piece of work that went away, in
// whichever account's budget it is.
func (s *Scheduler) Forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.held[id]; h != nil {
		delete(s.held, id)
		s.giveBack(h, s.now())
	}
	for _, b := range s.budgets {
		b.remove(id)
	}
}

// Queued is how much work waits, by account and class (Foreground, Background,
// Revocation), for metrics.
func (s *Scheduler) Queued() map[Key][3]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[Key][3]int{}
	for k, b := range s.budgets {
		out[k] = [3]int{b.count(Foreground), b.count(Background), b.count(Revocation)}
	}
	return out
}

// Start runs the scheduler until ctx ends: a manager.Runnable, added to the
// manager once, whichever controllers use the budget.
func (s *Scheduler) Start(ctx context.Context) error {
	s.Run(ctx.Done())
	return nil
}

// Run grants queued work as tokens come, until stop is closed.
func (s *Scheduler) Run(stop <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := s.grantDue()
		timer.Reset(next)
		select {
		case <-stop:
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// grantDue grants every queued request whose tokens are there, calls their Ready,
// and says how long until the next one may be.
func (s *Scheduler) grantDue() time.Duration {
	s.mu.Lock()
	now := s.now()
	var ready []func()
	next := time.Hour
	for id, h := range s.held {
		if !now.Before(h.expires) {
			delete(s.held, id)
			s.giveBack(h, now)
		}
	}
	for key, b := range s.budgets {
		b.refill(now, s.opts)
		for {
			r := b.peek()
			if r == nil {
				break
			}
			if !b.canGrant(r.Class, r.Tokens, s.opts) {
				// Strict turns: nothing passes the head, so that a request for
				// several tokens is not starved by requests for one.
				next = min(next, b.until(r.Class, r.Tokens, s.opts))
				break
			}
			b.spend(r.Class, r.Tokens)
			if r.Class == Foreground {
				b.turn++
			}
			b.remove(r.ID)
			s.held[r.ID] = &holding{key: key, tokens: r.Tokens, class: r.Class, expires: now.Add(s.opts.HoldFor)}
			ready = append(ready, r.Ready)
		}
	}
	if len(s.held) > 0 {
		next = min(next, s.opts.HoldFor)
	}
	s.mu.Unlock()
	for _, f := range ready {
		if f != nil {
			f()
		}
	}
	return max(next, time.Millisecond)
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// giveBack returns the tokens of a holding nobody took. Caller holds s.mu.
func (s *Scheduler) giveBack(h *holding, now time.Time) {
	b := s.budgetOf(h.key)
	b.refill(now, s.opts)
	b.tokens = math.Min(b.tokens+float64(h.tokens), float64(s.opts.Burst))
	if h.class == Background {
		b.bgTokens = math.Min(b.bgTokens+float64(h.tokens), bgBurst(s.opts))
	}
}

// budgetOf is the budget of a key, made on first use. Caller holds s.mu.
func (s *Scheduler) budgetOf(k Key) *accountBudget {
	b := s.budgets[k]
	if b == nil {
		b = &accountBudget{tokens: float64(s.opts.Burst), bgTokens: 1, factor: 1, last: s.now(), flows: map[string]*flow{},
			wire: rate.NewLimiter(rate.Limit(s.opts.QPS), s.opts.Burst)}
		s.budgets[k] = b
	}
	return b
}

type holding struct {
	key     Key
	tokens  int
	class   Class
	expires time.Time
}

// accountBudget is one account's bucket and queues in one region.
type accountBudget struct {
	tokens   float64
	bgTokens float64
	last     time.Time
	// factor scales the rate down after throttling (1: the configured rate).
	factor      float64
	throttledAt time.Time
	// wire paces the calls themselves, as they are made: tokens are spent when
	// work is granted, but the work may make its calls a moment later, and calls
	// of work granted apart must not reach EKS together.
	wire *rate.Limiter

	// flows are the foreground queues, one per flow, served in turn from
	// ring[turn]; revocations and background are one FIFO queue each.
	flows      map[string]*flow
	ring       []string
	turn       int
	revocation []*queued
	background []*queued
	seq        int
}

type flow struct{ queue []*queued }

type queued struct {
	Request
	seq   int
	since time.Time
}

func (b *accountBudget) rate(o Options) float64 { return o.QPS * b.factor }

// bgBurst is the most Background work takes at once: enough for one
// verification (a describe and a policy list).
func bgBurst(o Options) float64 { return math.Max(2, math.Ceil(o.BackgroundQPS)) }

func (b *accountBudget) refill(now time.Time, o Options) {
	dt := now.Sub(b.last).Seconds()
	if dt <= 0 {
		return
	}
	b.last = now
	if b.factor < 1 && now.Sub(b.throttledAt) >= recoverEvery {
		steps := math.Floor(float64(now.Sub(b.throttledAt)) / float64(recoverEvery))
		b.factor = math.Min(1, b.factor+0.1*steps)
		b.throttledAt = b.throttledAt.Add(time.Duration(steps) * recoverEvery)
	}
	b.tokens = math.Min(b.tokens+dt*b.rate(o), float64(o.Burst))
	if b.wire.Limit() != rate.Limit(b.rate(o)) {
		b.wire.SetLimitAt(now, rate.Limit(b.rate(o)))
	}
	b.bgTokens = math.Min(b.bgTokens+dt*o.BackgroundQPS, bgBurst(o))
}

// canGrant reports whether n tokens of the class are there now.
func (b *accountBudget) canGrant(c Class, n int, o Options) bool {
	if b.tokens < float64(n) {
		return false
	}
	return c != Background || (o.BackgroundQPS > 0 && b.bgTokens >= float64(n) && b.count(Foreground)+b.count(Revocation) == 0)
}

func (b *accountBudget) spend(c Class, n int) {
	b.tokens -= float64(n)
	if c == Background {
		b.bgTokens -= float64(n)
	}
}

// until is how long until n tokens of the class are there.
func (b *accountBudget) until(c Class, n int, o Options) time.Duration {
	need := math.Max(float64(n)-b.tokens, 0) / math.Max(b.rate(o), 1e-9)
	if c == Background {
		if o.BackgroundQPS <= 0 {
			return time.Hour
		}
		need = math.Max(need, math.Max(float64(n)-b.bgTokens, 0)/o.BackgroundQPS)
	}
	return time.Duration(need*float64(time.Second)) + time.Millisecond
}

// waiting reports whether work of the class, or of one that goes before it, is
// queued.
func (b *accountBudget) waiting(c Class) bool {
	for _, o := range []Class{Revocation, Foreground, Background} {
		if o.rank() <= c.rank() && b.count(o) > 0 {
			return true
		}
	}
	return false
}

func (b *accountBudget) count(c Class) int {
	switch c {
	case Background:
		return len(b.background)
	case Revocation:
		return len(b.revocation)
	}
	n := 0
	for _, f := range b.flows {
		n += len(f.queue)
	}
	return n
}

// queued finds the request queued for an ID.
func (b *accountBudget) queued(id string) *queued {
	for _, f := range b.flows {
		if i := slices.IndexFunc(f.queue, func(q *queued) bool { return q.ID == id }); i >= 0 {
			return f.queue[i]
		}
	}
	for _, l := range [][]*queued{b.revocation, b.background} {
		if i := slices.IndexFunc(l, func(q *queued) bool { return q.ID == id }); i >= 0 {
			return l[i]
		}
	}
	return nil
}

// enqueue queues a request, or updates the one queued for its ID: more tokens,
// a newer Ready, and the more urgent class of the two.
func (b *accountBudget) enqueue(r Request, now time.Time) *queued {
	if q := b.queued(r.ID); q != nil {
		q.Tokens, q.Ready = max(q.Tokens, r.Tokens), r.Ready
		if r.Class.rank() < q.Class.rank() {
			b.remove(q.ID)
			q.Class, q.Flow = r.Class, r.Flow
			b.push(q)
		}
		return q
	}
	b.seq++
	q := &queued{Request: r, seq: b.seq, since: now}
	b.push(q)
	return q
}

func (b *accountBudget) push(q *queued) {
	switch q.Class {
	case Background:
		b.background = append(b.background, q)
		return
	case Revocation:
		b.revocation = append(b.revocation, q)
		return
	}
	f := b.flows[q.Flow]
	if f == nil {
		f = &flow{}
		b.flows[q.Flow] = f
		b.ring = append(b.ring, q.Flow)
	}
	f.queue = append(f.queue, q)
}

func (b *accountBudget) remove(id string) {
	for name, f := range b.flows {
		if i := slices.IndexFunc(f.queue, func(q *queued) bool { return q.ID == id }); i >= 0 {
			f.queue = slices.Delete(f.queue, i, i+1)
			if len(f.queue) == 0 {
				delete(b.flows, name)
				j := slices.Index(b.ring, name)
				b.ring = slices.Delete(b.ring, j, j+1)
				if b.turn > j {
					b.turn--
				}
			}
			return
		}
	}
	if i := slices.IndexFunc(b.revocation, func(q *queued) bool { return q.ID == id }); i >= 0 {
		b.revocation = slices.Delete(b.revocation, i, i+1)
	}
	if i := slices.IndexFunc(b.background, func(q *queued) bool { return q.ID == id }); i >= 0 {
		b.background = slices.Delete(b.background, i, i+1)
	}
}

// peek is the request to grant next: the first revocation, else the head of the
// foreground queue of the flow whose turn it is, else the head of the background
// queue.
func (b *accountBudget) peek() *queued {
	if len(b.revocation) > 0 {
		return b.revocation[0]
	}
	if len(b.ring) > 0 {
		b.turn %= len(b.ring)
		return b.flows[b.ring[b.turn]].queue[0]
	}
	if len(b.background) > 0 {
		return b.background[0]
	}
	return nil
}

// ahead counts the work queued before q: of its class, and revocations.
func (b *accountBudget) ahead(q *queued) int {
	switch q.Class {
	case Background:
		return slices.IndexFunc(b.background, func(o *queued) bool { return o == q })
	case Revocation:
		return slices.IndexFunc(b.revocation, func(o *queued) bool { return o == q })
	}
	// In turn-taking every other flow's head goes first, then this flow's queue
	// up to q: a lower bound that a person can read.
	n := len(b.revocation)
	for name, f := range b.flows {
		if name == q.Flow {
			n += slices.IndexFunc(f.queue, func(o *queued) bool { return o == q })
			continue
		}
		n += min(len(f.queue), len(b.flows[q.Flow].queue))
	}
	return n
}

// estimate is about how long q waits: the tokens of what is ahead of it and its
// own, at the account's rate.
func (b *accountBudget) estimate(q *queued, now time.Time, o Options) time.Duration {
	tokens := float64(q.Tokens)
	if q.Class == Background {
		for _, o := range b.background {
			if o == q {
				break
			}
			tokens += float64(o.Tokens)
		}
		for _, f := range b.flows {
			for _, o := range f.queue {
				tokens += float64(o.Tokens)
			}
		}
		for _, o := range b.revocation {
			tokens += float64(o.Tokens)
		}
	} else {
		tokens += float64(b.ahead(q)) // one token each is the least they take
	}
	need := math.Max(tokens-b.tokens, 0) / math.Max(b.rate(o), 1e-9)
	if q.Class == Background && o.BackgroundQPS > 0 {
		need = math.Max(need, math.Max(float64(q.Tokens)-b.bgTokens, 0)/o.BackgroundQPS)
	}
	return time.Duration(need * float64(time.Second))
}
