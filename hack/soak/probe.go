package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// probe is a tenant that only ever asks for what its rule allows: it creates an
// object at intervals while the others attack, and a watcher times how long each
// takes to be Ready. A tenant whose neighbours flood, squat and churn must still
// get through within a bound (invariant v).
type probe struct {
	k8s     client.Client
	mu      sync.Mutex
	created map[string]time.Time
	ready   map[string]time.Duration
	// interrupted are the objects that were waiting when their cluster's
	// config was re-pointed or deleted: they wait for the platform, not for the
	// tenants.
	interrupted map[string]bool
	clusterOf   map[string]string
	// outages are when the operator was killed or kube-apiserver restarted,
	// named, so that a slow probe says what its wait overlapped.
	outages []outage
	// states are the Ready conditions each object showed, in turn, with when
	// (from its creation): what a slow one waited on.
	states map[string][]string
	cancel context.CancelFunc
	done   chan struct{}
}

// probeLive is how many probe objects are kept; older ones, once Ready, are deleted.
const probeLive = 3

func startProbe(ctx context.Context, k8s client.Client) *probe {
	ctx, cancel := context.WithCancel(ctx)
	p := &probe{k8s: k8s, created: map[string]time.Time{}, ready: map[string]time.Duration{}, interrupted: map[string]bool{}, clusterOf: map[string]string{}, states: map[string][]string{}, cancel: cancel, done: make(chan struct{})}
	go p.watch(ctx)
	return p
}

// watch lists the probe namespace every 200ms and records when each object is
// first seen Ready at its generation.
func (p *probe) watch(ctx context.Context) {
	defer close(p.done)
	for ctx.Err() == nil {
		list := &v1.AccessEntryList{}
		if err := p.k8s.List(ctx, list, client.InNamespace(probeNS)); err == nil {
			now := time.Now()
			p.mu.Lock()
			for _, ae := range list.Items {
				c := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReady)
				at, known := p.created[ae.Name]
				if _, done := p.ready[ae.Name]; !known || done {
					continue
				}
				p.saw(ae.Name, now.Sub(at), c)
				if c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == ae.Generation {
					p.ready[ae.Name] = now.Sub(at)
				}
			}
			p.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// saw records the object's Ready condition when it differs from the last one
// recorded (at most maxStates of them). The caller holds p.mu.
func (p *probe) saw(name string, since time.Duration, c *metav1.Condition) {
	state := "no Ready condition"
	if c != nil {
		state = fmt.Sprintf("%s/%s: %.90s", c.Status, c.Reason, c.Message)
	}
	seen := p.states[name]
	if len(seen) >= maxStates || len(seen) > 0 && strings.HasSuffix(seen[len(seen)-1], "s "+state) {
		return
	}
	p.states[name] = append(seen, fmt.Sprintf("%+.1fs %s", since.Seconds(), state))
}

// maxStates is how many Ready conditions a probe object's record keeps.
const maxStates = 12

// statesOf are the Ready conditions the object showed, in turn.
func (p *probe) statesOf(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.states[name], " | ")
}

// interrupt sets aside the objects of the cluster waiting now.
func (p *probe) interrupt(cluster string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name := range p.created {
		if _, ok := p.ready[name]; !ok && p.clusterOf[name] == cluster {
			p.interrupted[name] = true
		}
	}
}

// outage is a moment the soak took the operator or kube-apiserver down.
type outage struct {
	at   time.Time
	what string
}

// down records an outage starting now.
func (p *probe) down(what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.outages = append(p.outages, outage{time.Now(), what})
}

// overlapped names the outages from d before the object's creation (the
// operator still recovering from them) to the end of its wait.
func (p *probe) overlapped(name string, before time.Duration) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	from, to := p.created[name], p.created[name].Add(p.ready[name])
	var seen []string
	for _, o := range p.outages {
		if !o.at.Before(from.Add(-before)) && o.at.Before(to) {
			seen = append(seen, fmt.Sprintf("%s at %+.1fs", o.what, o.at.Sub(from).Seconds()))
		}
	}
	if len(seen) == 0 {
		return "no kill or restart"
	}
	return strings.Join(seen, ", ")
}

func (p *probe) stop() {
	p.cancel()
	<-p.done
}

// probeStep creates a probe object (View in ns-0) and deletes the oldest ones
// already Ready. It uses the cluster whose config is never re-pointed, unless
// that config is deleted: the probe shares the account's EKS budget with the
// floods and storms. A probe waiting when the platform re-points or deletes its
// config is set aside (interrupt): it waits for the platform, not the tenants.
func (m *model) probeStep(ctx context.Context, p *probe) {
	cluster := clusters[1]
	if m.noConfig {
		cluster = clusters[0]
	}
	m.seq++
	ae := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("probe-%04d", m.seq), Namespace: probeNS},
		Spec: v1.AccessEntrySpec{ClusterName: cluster, PrincipalARN: m.freshPrincipal(probeNS),
			AccessPolicies: []v1.AccessPolicy{{PolicyARN: policyARN("AmazonEKSViewPolicy"),
				AccessScope: v1.AccessScope{Type: v1.AccessScopeNamespace, Namespaces: []v1.ScopeNamespace{"ns-0"}}}}}}
	if err := m.create(ctx, ae); err != nil {
		m.attacks["probe: create failed (kube-apiserver restarting?)"]++
		return
	}
	m.probes[ae.Name] = true
	p.mu.Lock()
	p.created[ae.Name], p.clusterOf[ae.Name] = time.Now(), cluster
	var done []string
	for name := range p.ready {
		if _, live := m.live[name]; live {
			done = append(done, name)
		}
	}
	p.mu.Unlock()
	slices.Sort(done)
	for _, name := range done[:max(0, len(done)-probeLive)] {
		_ = m.remove(ctx, name)
	}
}

// probeLookBack is how long before a probe object was created an outage still
// counts as overlapping its wait.
const probeLookBack = 10 * time.Second

// waited is a probe object and how long it took to be Ready.
type waited struct {
	name string
	d    time.Duration
}

// counted are the probe objects the judgement counts (not set aside): those
// seen Ready, fastest first, and those never seen Ready.
func (p *probe) counted() (ready []waited, never []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name := range p.created {
		if p.interrupted[name] {
			continue
		}
		if d, ok := p.ready[name]; ok {
			ready = append(ready, waited{name, d})
		} else {
			never = append(never, name)
		}
	}
	slices.SortFunc(ready, func(a, b waited) int { return cmp.Or(cmp.Compare(a.d, b.d), strings.Compare(a.name, b.name)) })
	slices.Sort(never)
	return ready, never
}

// judge checks invariant v: every probe object became Ready within bound. Only
// per-namespace fairness bounds the wait, so a miss awaits it where it is missing.
func (p *probe) judge(bound time.Duration, c *counts) []finding {
	ready, never := p.counted()
	c.tenancy["(v) a probe object Ready within the bound"] += len(ready) + len(never)
	var out []finding
	for _, name := range never {
		out = append(out, finding{"(v)", featLimits, fmt.Sprintf("probe object %s/%s was never seen Ready", probeNS, name)})
	}
	var slow []string
	for _, w := range ready {
		if w.d > bound {
			slow = append(slow, fmt.Sprintf("%s %s: %s; Ready was %s", w.name, w.d.Round(100*time.Millisecond), p.overlapped(w.name, probeLookBack), p.statesOf(w.name)))
		}
	}
	if len(slow) > 0 {
		out = append(out, finding{"(v)", featLimits, fmt.Sprintf("%d probe objects waited longer than %s to be Ready, the longest %s (%s)", len(slow), bound,
			ready[len(ready)-1].d.Round(100*time.Millisecond), strings.Join(slow, "; "))})
	}
	return out
}

// summary is the probe's line of the report.
func (p *probe) summary(bound time.Duration) string {
	ready, never := p.counted()
	if len(ready) == 0 {
		return fmt.Sprintf("no probe object became Ready (%d never)", len(never))
	}
	p.mu.Lock()
	created, aside := len(p.created), len(p.interrupted)
	p.mu.Unlock()
	slowest := ready[len(ready)-1]
	return fmt.Sprintf("%d objects (of %d created; %d set aside, waiting when their config was re-pointed or deleted), time to Ready: median %s, max %s (bound %s; the slowest overlapped %s), never Ready %d",
		len(ready), created, aside, ready[len(ready)/2].d.Round(100*time.Millisecond), slowest.d.Round(100*time.Millisecond), bound, p.overlapped(slowest.name, probeLookBack), len(never))
}
