package controllers

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/eksaccess/eks-access-operator/internal/budget"
)

// errOverBudget fails an EKS call the account's budget has no token for: the
// pass ends there and the object is queued for its turn (SDKClients).
type errOverBudget struct {
	key budget.Key
}

func (e *errOverBudget) Error() string {
	return fmt.Sprintf("the operator's budget of EKS calls for account %s in %s is spent for now (--eks-qps)", e.key.Account, e.key.Region)
}

// grantSlot carries, in the context of a pass, the tokens the pass reserved:
// the calls of the pass take from them first.
type grantSlot struct {
	grant *budget.Grant
	// tier names the background work the calls are for (sweep, watched,
	// verify), for the metric; empty for foreground work.
	tier string
	// used counts the calls the pass made, to reserve enough for its next try
	// when it ran out.
	used int
}

type grantSlotKey struct{}

// withGrantSlot returns a context whose EKS calls take from the slot's grant.
func withGrantSlot(ctx context.Context, slot *grantSlot) context.Context {
	return context.WithValue(ctx, grantSlotKey{}, slot)
}

// release gives back what the pass did not spend.
func (s *grantSlot) release() {
	if s.grant != nil {
		s.grant.Release()
		s.grant = nil
	}
}

// spendToken takes the token of one attempt: from the pass's grant, else from
// what the budget holds now, else it fails with errOverBudget (never waits).
func spendToken(ctx context.Context, s *budget.Scheduler, key budget.Key) error {
	slot, _ := ctx.Value(grantSlotKey{}).(*grantSlot)
	if (slot != nil && slot.grant.Take()) || s.TakeNow(key, 1) {
		// Spaced at the account's rate as the call is made: at most a fraction
		// of a second, never a wait for the account's line.
		wait, ok := s.Pace(key, maxPace)
		if !ok {
			budgetSpent.WithLabelValues(key.Account, key.Region).Inc()
			return &errOverBudget{key: key}
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
		if slot != nil {
			slot.used++
			if slot.tier != "" {
				backgroundCalls.WithLabelValues(slot.tier).Inc()
			}
		}
		return nil
	}
	budgetSpent.WithLabelValues(key.Account, key.Region).Inc()
	return &errOverBudget{key: key}
}

// maxPace is the longest a call waits to be spaced from the account's other
// calls; past it the call fails with errOverBudget and the object waits its turn.
const maxPace = 250 * time.Millisecond

// queueRef is the controller's workqueue, for the scheduler and the sweeper to
// put objects back in: a source that only keeps the queue it is given.
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

// add puts a request in the queue (dropped before the controller started: its
// first list reconciles every object anyway).
func (r *queueRef) add(req reconcile.Request) {
	if q := r.q.Load(); q != nil {
		(*q).Add(req)
	}
}
