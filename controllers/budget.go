package controllers

import (
	"context"
	"sync/atomic"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
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

// add puts a request in the queue (dropped before the controller started: its
// first list reconciles every object anyway).
func (r *queueRef) add(req reconcile.Request) {
	if q := r.q.Load(); q != nil {
		(*q).Add(req)
	}
}

// addAfter puts a request in the queue once d has passed.
func (r *queueRef) addAfter(req reconcile.Request, d time.Duration) {
	if q := r.q.Load(); q != nil {
		(*q).AddAfter(req, d)
	}
}
