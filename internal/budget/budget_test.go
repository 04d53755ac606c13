package budget

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// clock is a fake clock the tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTest(o Options) (*Scheduler, *clock) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	o.Now = c.now
	return New(o), c
}

var (
	acctA = Key{Account: "111122223333", Region: "us-west-2"}
	acctB = Key{Account: "444455556666", Region: "us-west-2"}
)

// readyLog records the order in which queued work is made ready.
type readyLog []string

func (l *readyLog) req(key Key, id, flow string, c Class, tokens int) Request {
	return Request{Key: key, ID: id, Flow: flow, Class: c, Tokens: tokens, Ready: func() { *l = append(*l, id) }}
}

func TestGrantNowOrQueue(t *testing.T) {
	s, c := newTest(Options{QPS: 10, Burst: 10, BackgroundQPS: 1})
	var log readyLog
	g, w := s.Take(log.req(acctA, "a", "c1", Foreground, 8))
	if g == nil || w != nil {
		t.Fatalf("8 of 10 tokens: got wait %+v", w)
	}
	g2, w2 := s.Take(log.req(acctA, "b", "c1", Foreground, 5))
	if g2 != nil || w2 == nil || w2.For <= 0 {
		t.Fatalf("5 more tokens with 2 left: grant %v, wait %+v", g2, w2)
	}
	// 3 tokens come in 0.3s; nothing is granted before.
	s.grantDue()
	if len(log) != 0 {
		t.Fatalf("granted before the tokens came: %v", log)
	}
	c.advance(300 * time.Millisecond)
	s.grantDue()
	if fmt.Sprint(log) != "[b]" {
		t.Fatalf("ready %v, want [b]", log)
	}
	// The tokens wait for b: another request cannot take them, and b's grant has 5.
	if g, _ := s.Take(log.req(acctA, "c", "c1", Foreground, 1)); g != nil {
		t.Fatal("took tokens set aside for b")
	}
	gb, _ := s.Take(log.req(acctA, "b", "c1", Foreground, 5))
	if gb == nil {
		t.Fatal("b's tokens were not held for it")
	}
	n := 0
	for gb.Take() {
		n++
	}
	if n != 5 {
		t.Fatalf("b's grant held %d tokens, want 5", n)
	}
}

func TestReleaseGivesBackWhatWasNotSpent(t *testing.T) {
	s, _ := newTest(Options{QPS: 1, Burst: 4})
	g, _ := s.Take(Request{Key: acctA, ID: "a", Tokens: 4})
	g.Take()
	g.Release()
	if !s.TakeNow(acctA, 3) || s.TakeNow(acctA, 1) {
		t.Fatal("the 3 unspent tokens did not come back, or more did")
	}
}

// A cluster with a large change does not hold up a small change in another: their
// heads are served in turn.
func TestTurnsBetweenClusters(t *testing.T) {
	s, c := newTest(Options{QPS: 10, Burst: 1})
	var log readyLog
	s.Take(log.req(acctA, "first", "big", Foreground, 1)) // takes the only token
	for i := range 100 {
		s.Take(log.req(acctA, fmt.Sprintf("big-%d", i), "big", Foreground, 1))
	}
	s.Take(log.req(acctA, "small", "small", Foreground, 1))
	for range 3 {
		c.advance(100 * time.Millisecond)
		s.grantDue()
	}
	if fmt.Sprint(log) != "[big-0 small big-1]" {
		t.Fatalf("ready in order %v, want big-0 small big-1", log)
	}
}

// Background work only gets what no foreground work waits for, and no more than
// its own rate.
func TestForegroundFirstAndBackgroundCapped(t *testing.T) {
	s, c := newTest(Options{QPS: 10, Burst: 10, BackgroundQPS: 1})
	var log readyLog
	s.Take(log.req(acctA, "drain", "x", Foreground, 10))
	for i := range 50 {
		s.Take(log.req(acctA, fmt.Sprintf("bg-%d", i), "x", Background, 1))
	}
	s.Take(log.req(acctA, "user", "x", Foreground, 1))
	c.advance(100 * time.Millisecond)
	s.grantDue()
	if len(log) != 1 || log[0] != "user" {
		t.Fatalf("ready %v: the user's work must come first", log)
	}
	// Ten seconds later background work had at most its 1/s plus its burst.
	for range 100 {
		c.advance(100 * time.Millisecond)
		s.grantDue()
	}
	if bg := len(log) - 1; bg < 9 || bg > 12 {
		t.Fatalf("%d background grants in 10s at 1/s", bg)
	}
	// A background request waits behind a foreground one that came later.
	var order readyLog
	s2, c2 := newTest(Options{QPS: 1, Burst: 1, BackgroundQPS: 1})
	s2.Take(order.req(acctA, "drain", "x", Foreground, 1))
	s2.Take(order.req(acctA, "verify", "x", Background, 1))
	s2.Take(order.req(acctA, "change", "x", Foreground, 1))
	for range 3 {
		c2.advance(time.Second)
		s2.grantDue()
	}
	if fmt.Sprint(order) != "[change verify]" {
		t.Fatalf("order %v, want the change before the verification", order)
	}
}

// An upgraded request (a verification that became a change) leaves the
// background queue for the foreground one.
func TestUpgradeToForeground(t *testing.T) {
	s, c := newTest(Options{QPS: 1, Burst: 1, BackgroundQPS: 0.01})
	var log readyLog
	s.Take(log.req(acctA, "drain", "x", Foreground, 1))
	s.Take(log.req(acctA, "obj", "x", Background, 1))
	if q := s.Queued()[acctA]; q != [3]int{0, 1, 0} {
		t.Fatalf("queued %v", q)
	}
	s.Take(log.req(acctA, "obj", "x", Foreground, 1))
	if q := s.Queued()[acctA]; q != [3]int{1, 0, 0} {
		t.Fatalf("queued %v after the upgrade", q)
	}
	c.advance(time.Second)
	s.grantDue()
	if fmt.Sprint(log) != "[obj]" {
		t.Fatalf("ready %v", log)
	}
}

// Accounts do not share budgets: one drained account leaves the other whole.
func TestAccountsIndependent(t *testing.T) {
	s, _ := newTest(Options{QPS: 10, Burst: 10})
	for i := range 100 {
		s.Take(Request{Key: acctA, ID: fmt.Sprint(i), Flow: "c", Tokens: 3})
	}
	g, w := s.Take(Request{Key: acctB, ID: "b", Flow: "c", Tokens: 3})
	if g == nil || w != nil {
		t.Fatalf("account B waited behind account A: %+v", w)
	}
}

// Tokens set aside for work that never comes back return to the budget.
func TestHeldTokensExpire(t *testing.T) {
	s, c := newTest(Options{QPS: 10, Burst: 5, HoldFor: time.Second})
	var log readyLog
	s.Take(log.req(acctA, "drain", "x", Foreground, 5))
	s.Take(log.req(acctA, "gone", "x", Foreground, 5))
	c.advance(500 * time.Millisecond)
	s.grantDue()
	if fmt.Sprint(log) != "[gone]" {
		t.Fatalf("ready %v", log)
	}
	if s.TakeNow(acctA, 1) {
		t.Fatal("the held tokens were taken by someone else")
	}
	c.advance(1100 * time.Millisecond)
	s.grantDue()
	if !s.TakeNow(acctA, 5) {
		t.Fatal("the expired holding did not give its tokens back")
	}
}

// drain takes the account's tokens one by one and counts them.
func drain(s *Scheduler, key Key) int {
	n := 0
	for s.TakeNow(key, 1) {
		n++
	}
	return n
}

func TestThrottledSlowsOneAccount(t *testing.T) {
	s, c := newTest(Options{QPS: 10, Burst: 10})
	s.TakeNow(acctA, 10)
	s.TakeNow(acctB, 10)
	s.Throttled(acctA)
	c.advance(time.Second)
	a, b := drain(s, acctA), drain(s, acctB)
	if a != 7 || b != 10 {
		t.Fatalf("a second after a throttle: account A got %d (want 7, 70%% of the rate), B %d (want 10)", a, b)
	}
	// A storm cuts it again and again, down to a tenth.
	for range 10 {
		s.Throttled(acctA)
	}
	c.advance(time.Second)
	if a = drain(s, acctA); a != 1 {
		t.Fatalf("a second after a storm of throttles account A got %d tokens, want 1 (a tenth of the rate)", a)
	}
	// Without further throttling the rate grows back.
	c.advance(60 * time.Second)
	s.TakeNow(acctA, 10)
	c.advance(time.Second)
	if a = drain(s, acctA); a != 10 {
		t.Fatalf("a minute later account A gets %d tokens a second, want 10", a)
	}
}

func TestTokensCappedAtTheBurst(t *testing.T) {
	s, c := newTest(Options{QPS: 10, Burst: 5, BackgroundQPS: 1})
	var log readyLog
	s.Take(log.req(acctA, "drain", "x", Foreground, 5))
	s.Take(log.req(acctA, "huge", "x", Foreground, 50))
	s.Take(log.req(acctA, "verify", "y", Background, 2))
	for range 20 {
		c.advance(100 * time.Millisecond)
		s.grantDue()
	}
	if fmt.Sprint(log) != "[huge verify]" {
		t.Fatalf("ready %v: a request for more than the burst must still be granted", log)
	}
}

func TestWaitBlocksUntilGranted(t *testing.T) {
	s := New(Options{QPS: 50, Burst: 1})
	stop := make(chan struct{})
	defer close(stop)
	go s.Run(stop)
	start := time.Now()
	for i := range 5 {
		if g := s.Wait(stop, Request{Key: acctA, ID: fmt.Sprint(i), Tokens: 1}); g == nil {
			t.Fatal("no grant")
		}
	}
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Fatalf("5 tokens at 50/s with a burst of 1 came in %s", d)
	}
}

// TestPaceSpacesCalls: calls made together, with tokens granted earlier, are
// spaced to the account's rate beyond its burst; a call that would wait longer
// than allowed is refused and not counted. Another account is not slowed.
func TestPaceSpacesCalls(t *testing.T) {
	s, _ := newTest(Options{QPS: 10, Burst: 2})
	var waits []time.Duration
	for range 4 {
		d, ok := s.Pace(acctA, 250*time.Millisecond)
		if !ok {
			t.Fatalf("call %d refused after waits %v", len(waits)+1, waits)
		}
		waits = append(waits, d)
	}
	want := []time.Duration{0, 0, 100 * time.Millisecond, 200 * time.Millisecond}
	if !slices.Equal(waits, want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	if d, ok := s.Pace(acctA, 250*time.Millisecond); ok {
		t.Fatalf("a fifth call at once was allowed to wait %s, past the 250ms allowed", d)
	}
	if d, _ := s.Pace(acctA, time.Second); d != 300*time.Millisecond {
		t.Fatalf("the refused call was counted: the next waits %s, want 300ms", d)
	}
	if d, ok := s.Pace(acctB, 0); !ok || d != 0 {
		t.Fatalf("another account waited %s (%v)", d, ok)
	}
}

// TestBackgroundNeverTakesPastForeground: a call of background work beyond
// its grant takes no token while foreground work waits; foreground work
// beyond its grant still may.
func TestBackgroundNeverTakesPastForeground(t *testing.T) {
	s, c := newTest(Options{QPS: 10, Burst: 10, BackgroundQPS: 5})
	var log readyLog
	if g, _ := s.Take(log.req(acctA, "big", "c1", Foreground, 10)); g == nil {
		t.Fatal("the first 10 tokens")
	}
	if _, w := s.Take(log.req(acctA, "waiting", "c2", Foreground, 2)); w == nil {
		t.Fatal("no tokens left, yet granted")
	}
	c.advance(time.Second) // 10 tokens back, 2 of them for "waiting" once it is granted
	if s.TakeNowAs(acctA, 1, Background) {
		t.Error("background took a token while foreground work waits")
	}
	if !s.TakeNowAs(acctA, 1, Foreground) {
		t.Error("foreground beyond its grant could not take a token that is there")
	}
	s.grantDue()
	if !s.TakeNowAs(acctA, 1, Background) {
		t.Error("nothing waits, yet background could not take a token")
	}
}

// TestRevocationGoesFirst: with foreground work of several flows and background
// work queued, a revocation is granted before any of them, and none of them
// takes tokens past it; it is granted at once when the tokens are there and no
// other revocation waits, and a queued request asked again as a revocation moves
// ahead.
func TestRevocationGoesFirst(t *testing.T) {
	s, c := newTest(Options{QPS: 10, Burst: 2, BackgroundQPS: 1})
	var log readyLog
	if g, _ := s.Take(log.req(acctA, "busy", "c1/team-a", Foreground, 2)); g == nil {
		t.Fatal("the first request did not get the burst")
	}
	for i := range 5 {
		s.Take(log.req(acctA, fmt.Sprintf("churn-%d", i), "c1/team-a", Foreground, 2))
	}
	s.Take(log.req(acctA, "other", "c1/team-b", Foreground, 2))
	s.Take(log.req(acctA, "verify", "c1", Background, 2))
	s.Take(log.req(acctA, "revoke", "c1/team-b", Revocation, 2))
	// A revocation asked for by a request already queued as foreground moves it ahead.
	s.Take(log.req(acctA, "churn-4", "c1/team-a", Revocation, 2))
	if s.TakeNowAs(acctA, 1, Foreground) {
		t.Error("foreground work took a token past waiting revocations")
	}
	for range 20 {
		c.advance(200 * time.Millisecond)
		s.grantDue()
	}
	if len(log) < 3 || log[0] != "revoke" || log[1] != "churn-4" {
		t.Fatalf("granted in the order %v; want the revocations first, in the order they came", log)
	}
	if q := s.Queued()[acctA]; q[2] != 0 {
		t.Errorf("revocations still queued: %v", q)
	}
	// Nothing waits: a revocation is granted at once.
	s2, _ := newTest(Options{QPS: 10, Burst: 2})
	if g, _ := s2.Take(log.req(acctB, "now", "c1/team-a", Revocation, 2)); g == nil || g.Class != Revocation {
		t.Errorf("a revocation with the tokens there: %+v", g)
	}
}
