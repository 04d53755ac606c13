package controllers

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// ending is how a pass of either controller turns the way it ended into
// conditions and a result (conclude). The two controllers differ only in this
// data:
//
//   - an AccessEntry is looked at again when its verification is due, a
//     ClusterAccessConfig every resync;
//   - an AccessEntry that waits on EKS backs off with the time it has waited and
//     is Stalled after --stall-after; a ClusterAccessConfig polls and never
//     stalls while waiting, since what it waits on (an update EKS runs, a cluster
//     leaving UPDATING) ends by itself;
//   - an AccessEntry's spec refused by EKS is terminal (only a spec change helps),
//     while a ClusterAccessConfig words every refusal as a stall checked again
//     each resync (its outcomes are never terminal), because the cluster's own
//     state can make a refused request succeed later.
type ending struct {
	conds condSet
	// ready is the message of Ready=True, and readyAfter when a Ready object is
	// looked at again.
	ready      string
	readyAfter time.Duration
	// retryAfter is when an object that retries (kindRetry with no time of its
	// own) is looked at again; waitAfter, one that waits on EKS (kindWait).
	retryAfter, waitAfter time.Duration
	// stallAfter is how long waiting on EKS may last before the object is
	// Stalled as well; zero for a controller whose waits never stall.
	stallAfter time.Duration
	// waited is how long the object has been Reconciling without a break.
	waited time.Duration
	// stalledFor is how long the object has been Stalled at its generation; a
	// stall is then checked again after at least as long (up to maxRecheck), so
	// that objects nothing will unblock soon back off. Zero: no backoff.
	stalledFor time.Duration
	// deleting: the pass was a deletion; done, it leaves nothing to look at again.
	deleting bool
}

// conclude turns the way a pass ended into conditions and a result.
func (e ending) conclude(err error) (ctrl.Result, error) {
	var o *outcome
	switch {
	case err == nil && e.deleting:
		return ctrl.Result{}, nil
	case err == nil:
		e.conds.ready(e.ready)
		return ctrl.Result{RequeueAfter: jitter(e.readyAfter, 0.1)}, nil
	case !errors.As(err, &o):
		return ctrl.Result{}, err // the API server's: retried by the workqueue
	}
	switch o.kind {
	case kindStall:
		e.conds.stalled(o.reason, o.message)
		if o.terminal {
			return ctrl.Result{}, reconcile.TerminalError(o)
		}
		return ctrl.Result{RequeueAfter: backedOff(o.after, e.stalledFor)}, nil
	case kindRetry:
		e.conds.reconciling(o.reason, o.message)
		return ctrl.Result{RequeueAfter: cmp.Or(o.after, e.retryAfter)}, nil
	case kindError:
		e.conds.reconciling(o.reason, o.message)
		return ctrl.Result{}, o.err
	case kindDefer:
		if !o.quiet {
			e.conds.reconciling(o.reason, o.message)
		}
		return ctrl.Result{RequeueAfter: o.after}, nil
	case kindDone:
		e.conds.readyAs(o.reason, o.message)
		return ctrl.Result{}, nil
	}
	return e.wait(o), nil
}

// maxRecheck bounds the backoff of a stalled object's rechecks.
const maxRecheck = 30 * time.Minute

// backedOff is when a stall is checked again: after as asked, or after as long
// as the object has been stalled already, up to maxRecheck, with jitter so that
// a crowd stalled together does not come back together.
func backedOff(after, stalledFor time.Duration) time.Duration {
	if stalledFor <= after {
		return after
	}
	return jitter(min(stalledFor, maxRecheck), 0.2)
}

// wait keeps Reconciling=True and checks again after waitAfter. Past stallAfter
// it also reports Stalled, and keeps checking; an object already Stalled on the
// same reason at this generation stays so (no flapping back to Reconciling).
func (e ending) wait(o *outcome) ctrl.Result {
	if e.stallAfter > 0 {
		if s := meta.FindStatusCondition(*e.conds.list, v1.ConditionStalled); s != nil && s.Reason == o.reason && s.ObservedGeneration == e.conds.generation {
			return ctrl.Result{RequeueAfter: maxBackoff}
		}
	}
	e.conds.reconciling(o.reason, o.message)
	if e.stallAfter > 0 && e.waited > e.stallAfter {
		e.conds.stalled(o.reason, fmt.Sprintf("%s (no progress for more than %s)", o.message, e.stallAfter))
	}
	return ctrl.Result{RequeueAfter: cmp.Or(o.after, e.waitAfter)}
}
