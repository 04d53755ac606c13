package controllers

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// checkPrincipal makes sure the entry is bound to the IAM principal that holds its
// ARN now: EKS binds an entry to the principal's unique ID, and after the role or
// user is deleted and created again under the same ARN, the entry grants nothing.
// It looks the principal up in IAM when a lookup is due and the pass did not just
// write the entry, and acts on plan.DecidePrincipal: records the ID, recreates the
// entry, or stalls PrincipalDeleted with the entry kept.
func (r *AccessEntryReconciler) checkPrincipal(ctx context.Context, p *entryPass) error {
	if p.written || !r.principalCheckDue(p.ae) {
		return nil
	}
	pid, created, err := r.Principals.PrincipalID(ctx, p.target, p.id.PrincipalARN)
	if errors.Is(err, errIAMBusy) {
		return nil // still due: a later pass asks
	}
	r.nextPrincipalCheck.Store(p.ae.UID, time.Now().Add(r.PrincipalCheckInterval))
	facts := plan.PrincipalFacts{ID: pid, Created: created, RecordedID: p.ae.Status.PrincipalID,
		ReportedDeleted: principalDeleted(p.ae), EntryCreated: p.obs.CreatedAt}
	switch {
	case err == nil:
		facts.Lookup = plan.LookupFound
	case errors.Is(err, errNoSuchPrincipal):
		facts.Lookup = plan.LookupNoSuchPrincipal
	}

	switch plan.DecidePrincipal(facts) {
	case plan.PrincipalUnchecked:
		if err != nil {
			// Not known to IAM yet, another account, no permission, IAM unreachable.
			ctrl.LoggerFrom(ctx).V(1).Info("principal not checked with IAM", "principal", p.id.PrincipalARN, "reason", err.Error())
		}
		return nil
	case plan.PrincipalSame:
		p.ae.Status.PrincipalID = pid
		return nil
	case plan.PrincipalDeleted:
		return stall(v1.ReasonPrincipalDeleted, r.PrincipalCheckInterval,
			"IAM has no %s any more, so its EKS access entry grants nothing; the entry is kept. "+
				"Create the role or user again (the operator then recreates the entry for it), or delete this AccessEntry", p.id.PrincipalARN)
	}

	was := p.ae.Status.PrincipalID
	if was == "" {
		was = "one older than the entry"
	}
	p.event(corev1.EventTypeWarning, "PrincipalRecreated",
		"%s was deleted and created again in IAM (ID %s, was %s): EKS bound the access entry to the old principal, so it is recreated",
		p.id.PrincipalARN, pid, was)
	p.progress(v1.ReasonProgressing, "recreating the EKS access entry for the principal created again in IAM")
	if _, err := r.remove(ctx, p, p.id, p.target, false); err != nil {
		return err
	}
	if err := r.resetStatus(ctx, p, false); err != nil {
		return err
	}
	return r.ensureEntry(ctx, p)
}

// principalCheckDue says whether the entry's principal is due an IAM lookup. An
// entry never checked is due at once; one checked before (status.principalID)
// and seen for the first time since the operator started is due at a random
// moment within the interval, so that a restart does not send every lookup at
// once; one reported PrincipalDeleted is due on every reconcile.
func (r *AccessEntryReconciler) principalCheckDue(ae *v1.AccessEntry) bool {
	if r.Principals == nil || r.PrincipalCheckInterval <= 0 {
		return false
	}
	if principalDeleted(ae) {
		return true
	}
	first := time.Now()
	if ae.Status.PrincipalID != "" {
		first = first.Add(rand.N(r.PrincipalCheckInterval))
	}
	next, _ := r.nextPrincipalCheck.LoadOrStore(ae.UID, first)
	return !time.Now().Before(next.(time.Time))
}

// principalDeleted says whether the object reports its principal deleted.
func principalDeleted(ae *v1.AccessEntry) bool {
	c := readyCondition(ae)
	return c != nil && c.Reason == v1.ReasonPrincipalDeleted
}
