package controllers

import (
	"context"
	"sync/atomic"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/eksaccess/eks-access-operator/internal/budget"
)

// queueRef is a controller's workqueue, for the budget's scheduler and the sweeps
// to put objects back in: a source that only keeps the queue it is given.
type queueRef struct {
	q atomic.Pointer[workqueue.TypedRateLimitingInterface[reconcile.Request]]
}

// source is the source.Func to register with the controller.
func (r *queueRef) source() source.Source {
	return source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		r.q.Store(&q)
		return nil
	})
}

// Priorities in the workqueue. Objects are taken from the queue highest
// priority first, in the order they came within one. Work the budget has set
// tokens aside for goes first, since the tokens go back to the bucket after
// HoldFor (a second at EKS's rate); among it, taking access away before a
// change, and a change before a verification. An object suspected of drift
// (an event or a sweep named it) goes next: it is about to ask for foreground
// tokens. Everything else (a spec change, a requeue) is normal, and the
// informers' first list is lower still (controller-runtime's LowPriority).
// However long the backlog of verifications cycling through the queue, an
// object woken for its tokens or marked by an event waits only for those of
// its own rank.
const (
	priorityRevoke     = 40
	priorityForeground = 30
	priorityBackground = 20
	prioritySuspect    = 10
	priorityNormal     = 0
)

// readyPriority is the priority of an object woken by the budget for work of a class.
func readyPriority(c budget.Class) int {
	switch c {
	case budget.Revocation:
		return priorityRevoke
	case budget.Background:
		return priorityBackground
	}
	return priorityForeground
}

// expiryPriority is the priority of an object's wake-up at its expiry, until
// from now, beside the pass's own requeue: revocation when the expiry comes
// first (the queue keeps one entry per object, with the earlier time and the
// higher priority of the two), normal otherwise, so that a time-bound object's
// verifications before its expiry do not go ahead of everyone else's. The
// last pass before the expiry asks for it at revocation priority.
func expiryPriority(until time.Duration, res reconcile.Result) int {
	if res.RequeueAfter == 0 || until <= res.RequeueAfter {
		return priorityRevoke
	}
	return priorityNormal
}

// add puts a request in the queue at normal priority (dropped before the
// controller started: its first list reconciles every object anyway).
func (r *queueRef) add(req reconcile.Request) { r.addAs(req, priorityNormal, 0) }

// addAfter puts a request in the queue once d has passed.
func (r *queueRef) addAfter(req reconcile.Request, d time.Duration) { r.addAs(req, priorityNormal, d) }

// addAs puts a request in the queue at a priority once d has passed. An object
// already queued keeps the higher of its priorities and the earlier of its times.
func (r *queueRef) addAs(req reconcile.Request, priority int, d time.Duration) {
	q := r.q.Load()
	if q == nil {
		return
	}
	if pq, ok := (*q).(priorityqueue.PriorityQueue[reconcile.Request]); ok {
		pq.AddWithOpts(priorityqueue.AddOpts{After: d, Priority: &priority}, req)
		return
	}
	(*q).AddAfter(req, d)
}

// requeuedAs is a result's priority when its object goes back in the queue:
// normal, whatever priority took it out, so that an object once woken ahead
// does not keep its place in every later round.
func requeuedAs(res reconcile.Result) reconcile.Result {
	n := priorityNormal
	res.Priority = &n
	return res
}
