package controllers

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// The principal check runs on its own schedule: each Ready entry's principal is
// looked up in IAM once per PrincipalCheckInterval, whatever VerifyPeriod says.
// Between verifications the lookup is made by checkPrincipalBetween, with no EKS
// call (IAM reads are bounded by --iam-qps per account, and a lookup over it is
// put off, never waited for); only a principal found deleted and created again
// turns the pass into foreground work, which recreates the entry.

// iamBusyRetry is, at the least, when a lookup put off by the IAM rate is asked
// for again (up to twice that, spread).
const iamBusyRetry = 5 * time.Second

// principalLookup is what IAM said of the entry's principal.
type principalLookup struct {
	id      string
	created time.Time
	err     error
}

// checkPrincipalBetween runs for an entry Ready at its generation whose full
// verification is left away. When its principal is due a lookup, it is looked
// up now: unchanged, or not to be checked, the pass ends until the sooner of
// the next lookup and the verification; changed, the pass goes on as
// foreground work, and checkPrincipal acts on what the lookup found.
func (r *AccessEntryReconciler) checkPrincipalBetween(ctx context.Context, p *entryPass, left time.Duration) error {
	if p.principal == nil && r.principalCheckDue(p.ae) {
		if p.principal = r.lookupPrincipal(ctx, p); p.principal == nil {
			left = min(left, jitter(iamBusyRetry, 1)) // put off by the IAM rate: ask again soon
		}
	}
	if p.principal != nil { // looked up now, or found by resolvePermissionSet
		switch r.decidePrincipal(p, metaTimeOrZero(p.ae.Status.CreatedAt)) {
		case plan.PrincipalSame:
			p.ae.Status.PrincipalID = p.principal.id
		case plan.PrincipalRecreated, plan.PrincipalDeleted:
			return nil
		}
	}
	if next := r.principalCheckLeft(p.ae); next > 0 {
		left = min(left, next)
	}
	return skipFor(jitter(left, 0.05))
}

// checkPrincipal makes sure the entry is bound to the IAM principal that holds its
// ARN now: EKS binds an entry to the principal's unique ID, and after the role or
// user is deleted and created again under the same ARN, the entry grants nothing.
// It looks the principal up in IAM when a lookup is due (or uses the lookup
// checkPrincipalBetween made) and the pass did not just write the entry, and acts
// on plan.DecidePrincipal: records the ID, recreates the entry, or stalls
// PrincipalDeleted with the entry kept.
func (r *AccessEntryReconciler) checkPrincipal(ctx context.Context, p *entryPass) error {
	if p.written {
		// The next lookup is worked out again from what status now says
		// (principalCheckLeft): a new entry's is an interval after its creation.
		r.nextPrincipalCheck.Delete(p.ae.UID)
		return nil
	}
	if p.principal == nil && r.principalCheckDue(p.ae) {
		p.principal = r.lookupPrincipal(ctx, p)
	}
	if p.principal == nil {
		return nil
	}
	switch r.decidePrincipal(p, p.obs.CreatedAt) {
	case plan.PrincipalUnchecked:
		if err := p.principal.err; err != nil {
			// Not known to IAM yet, another account, no permission, IAM unreachable.
			ctrl.LoggerFrom(ctx).V(1).Info("principal not checked with IAM", "principal", p.id.PrincipalARN, "reason", err.Error())
		}
		return nil
	case plan.PrincipalSame:
		p.ae.Status.PrincipalID = p.principal.id
		return nil
	case plan.PrincipalDeleted:
		return stall(v1.ReasonPrincipalDeleted, r.PrincipalCheckInterval,
			"IAM has no %s any more, so its EKS access entry grants nothing; the entry is kept. "+
				"Create the role or user again (the operator then recreates the entry for it), or delete this AccessEntry", p.id.PrincipalARN)
	}
	return r.recreateForPrincipal(ctx, p)
}

// recreateForPrincipal deletes the entry bound to a principal deleted and
// created again, and creates it for the principal that holds the ARN now.
func (r *AccessEntryReconciler) recreateForPrincipal(ctx context.Context, p *entryPass) error {
	was := p.ae.Status.PrincipalID
	if was == "" {
		was = "one older than the entry"
	}
	p.event(corev1.EventTypeWarning, "PrincipalRecreated",
		"%s was deleted and created again in IAM (ID %s, was %s): EKS bound the access entry to the old principal, so it is recreated",
		p.id.PrincipalARN, p.principal.id, was)
	p.progress(v1.ReasonProgressing, "recreating the EKS access entry for the principal created again in IAM")
	if _, err := r.remove(ctx, p, p.at(), false); err != nil {
		return err
	}
	if err := r.resetStatus(ctx, p, false); err != nil {
		return err
	}
	return r.ensureEntry(ctx, p)
}

// lookupPrincipal asks IAM for the principal of the pass's entry, and sets its
// next lookup an interval away; nil when the lookup was put off to stay within
// the IAM rate (still due: a later pass asks).
func (r *AccessEntryReconciler) lookupPrincipal(ctx context.Context, p *entryPass) *principalLookup {
	id, created, err := r.Principals.PrincipalID(ctx, p.target, p.id.PrincipalARN)
	if errors.Is(err, awsapi.ErrIAMBusy) {
		return nil
	}
	r.nextPrincipalCheck.Store(p.ae.UID, time.Now().Add(r.PrincipalCheckInterval))
	return &principalLookup{id: id, created: created, err: err}
}

// decidePrincipal is plan.DecidePrincipal of the pass's lookup, for an entry
// EKS created at entryCreated (zero: unknown).
func (r *AccessEntryReconciler) decidePrincipal(p *entryPass, entryCreated time.Time) plan.Principal {
	l := p.principal
	facts := plan.PrincipalFacts{ID: l.id, Created: l.created, RecordedID: p.ae.Status.PrincipalID,
		ReportedDeleted: principalDeleted(p.ae), EntryCreated: entryCreated}
	switch {
	case l.err == nil:
		facts.Lookup = plan.LookupFound
	case errors.Is(l.err, awsapi.ErrNoSuchPrincipal):
		facts.Lookup = plan.LookupNoSuchPrincipal
	}
	decision := plan.DecidePrincipal(facts)
	if decision == plan.PrincipalRecreated {
		// Due again until acted on: a pass that stops before it has recreated the
		// entry (the budget spent, a restart) must not leave it to the next interval.
		r.nextPrincipalCheck.Store(p.ae.UID, time.Now())
	}
	return decision
}

// principalCheckDue says whether the entry's principal is due an IAM lookup
// (principalCheckLeft); one reported PrincipalDeleted is due on every reconcile.
func (r *AccessEntryReconciler) principalCheckDue(ae *v1.AccessEntry) bool {
	if r.Principals == nil {
		return false
	}
	if principalDeleted(ae) {
		return true
	}
	return r.principalCheckLeft(ae) == 0
}

// principalCheckLeft is how long until the entry's principal is due a lookup;
// 0 when it is due, or when there are no lookups. Seen for the first time since
// the operator started (or wrote the entry), an entry checked before
// (status.principalID) is due at a random moment within the interval, so that a
// restart does not send every lookup at once; one never checked is due an
// interval after EKS created it, bound then to the principal IAM held, and at
// once when that is past or unknown.
func (r *AccessEntryReconciler) principalCheckLeft(ae *v1.AccessEntry) time.Duration {
	if r.Principals == nil {
		return 0
	}
	first := time.Now()
	switch st := &ae.Status; {
	case st.PrincipalID != "":
		first = first.Add(rand.N(r.PrincipalCheckInterval))
	case st.CreatedAt != nil && st.CreatedAt.Add(r.PrincipalCheckInterval).After(first):
		first = st.CreatedAt.Add(r.PrincipalCheckInterval)
	}
	next, _ := r.nextPrincipalCheck.LoadOrStore(ae.UID, first)
	return max(0, time.Until(next.(time.Time)))
}

// principalDeleted says whether the object reports its principal deleted.
func principalDeleted(ae *v1.AccessEntry) bool {
	c := readyCondition(ae)
	return c != nil && c.Reason == v1.ReasonPrincipalDeleted
}
