package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// checkExpiry ends the grant of an object whose spec.expiresAt has passed: the
// EKS entry status records is deleted, whatever deletionPolicy says, and the
// pass stops Ready with reason Expired, the object kept as a record. Before its
// expiry it does nothing: summarize puts the object back in the queue then.
func (r *AccessEntryReconciler) checkExpiry(ctx context.Context, p *entryPass) error {
	spec := &p.ae.Spec
	if !spec.Expired(time.Now()) {
		return nil
	}
	if id := p.ae.Status.Identity; id != nil {
		if err := r.revokeExpired(ctx, p, *id); err != nil {
			return err
		}
	}
	held := "it holds nothing in EKS"
	if n := len(p.ae.Status.RetainedEntries); n > 0 {
		// Kept under Retain before the expiry: leftovers now, not this grant, and
		// judged as such by pruning.
		held = fmt.Sprintf("its own entry is deleted; %d entries it retained earlier (status.retainedEntries) are left behind, judged by the ClusterAccessConfig's pruning", n)
	}
	return done(v1.ReasonExpired, "expired at %s (spec.expiresAt): %s", spec.ExpiresAt.UTC().Format(time.RFC3339), held)
}

// revokeExpired deletes the entry of id that an expired object holds. Expiry the
// clock brought is revocation work, ahead of every other call in the account's
// budget; one the object's own spec change brought (an expiresAt set in the
// past) waits its namespace's turn, as any spec change does, so that a tenant
// cannot jump the line by editing. An entry status records the object made (or
// adopted) is deleted without reading it first: one delete per grant, whatever
// the conditions say meanwhile (a wait for the budget makes Ready False). The
// principal's access to the cluster ends at expiry, so an entry someone put in
// its place since goes too.
func (r *AccessEntryReconciler) revokeExpired(ctx context.Context, p *entryPass, id v1.EntryIdentity) error {
	t, err := r.recordedTarget(ctx, p, id)
	if err != nil {
		return err
	}
	at, blind, calls := entryAt{id: id, target: t}, p.ae.Status.AccessEntryARN != "", 2
	switch {
	case p.ae.Status.Adopted != nil:
		calls = 4 // its reads, and the writes that take back what the object added
	case blind:
		calls = 1
	}
	p.revoking = p.ae.Status.ObservedGeneration == p.ae.Generation
	if r.AWS.Budget() != nil {
		g, err := r.take(p, awsapi.BudgetKey(t), calls)
		if err != nil {
			return err
		}
		p.slot.Grant = g
	}
	p.progress(v1.ReasonExpired, "spec.expiresAt has passed: deleting the EKS access entry")
	var removal plan.Removal
	if a := p.ae.Status.Adopted; a != nil && a.ARN != "" && a.ARN == p.ae.Status.AccessEntryARN {
		removal, err = r.giveBack(ctx, p, at, *a)
	} else if blind {
		// EKS may answer a delete of an entry it created moments ago as not
		// found: such an entry is deleted again later, never taken as gone.
		removal, err = r.deleteEntry(ctx, at)
		if removal == plan.RemovalGone && plan.MayStillAppear(&p.ae.Status, id, time.Now(), r.ConsistencyWindow) {
			removal = plan.RemovalWait
		}
	} else {
		removal, err = r.remove(ctx, p, at, false)
	}
	switch {
	case err != nil:
		return err
	case removal == plan.RemovalWait:
		return waitFor(v1.ReasonWaitingForEKS, "expired, and the EKS access entry was just created and is not visible yet, so it cannot be deleted yet")
	}
	// Forgotten in the pass's one status patch, not at once as a move does: a
	// pass cut short before it deletes again, which EKS answers as gone.
	p.ae.Status = cleared(p.ae.Status, p.ae.Status.RetainedEntries)
	r.reportExpiry(ctx, p, id, removal)
	return nil
}

// giveBack leaves an entry the expired object adopted as the object found it
// (status.adopted): it reads the entry and takes away what the object added,
// and the ownership tags (plan.Relinquish). An entry gone, or no longer the
// object's, is left as it is.
func (r *AccessEntryReconciler) giveBack(ctx context.Context, p *entryPass, at entryAt, a v1.AdoptedEntry) (plan.Removal, error) {
	cl := r.AWS.For(at.target)
	obs, err := cl.Observe(ctx, at.id, true)
	switch {
	case err != nil:
		return 0, r.eksOutcome(at.id, err)
	case obs == nil:
		return plan.RemovalGone, nil
	case obs.ARN != a.ARN || !plan.Owns(*obs, plan.RecordOf(&p.ae.Status, at.id), r.owner(p.ae)):
		return plan.RemovalNotOurs, nil
	}
	a, err = r.allowedGiveBack(ctx, p, at.id, a)
	if err != nil {
		return 0, err
	}
	pl := plan.Relinquish(a, *obs, at.id.PrincipalARN, p.ae.Status.ManagedTags)
	if err := cl.Apply(ctx, awsapi.Entry{ID: at.id, ARN: obs.ARN}, pl, obs); err != nil {
		return 0, r.eksOutcome(at.id, err)
	}
	return plan.RemovalGiveBack, nil
}

// allowedGiveBack is the adopted record as a tenant's object may give it back
// now: a username the platform's rule no longer allows the namespace goes back
// to the one EKS derives, not to what the entry had (red team, 2026-12-06: the
// tenant moved to another allowed username first, and the expiry sent the
// revoked one back). The platform's objects give back what they found.
func (r *AccessEntryReconciler) allowedGiveBack(ctx context.Context, p *entryPass, id v1.EntryIdentity, a v1.AdoptedEntry) (v1.AdoptedEntry, error) {
	derived := awsarn.DefaultUsername(id.PrincipalARN)
	if a.Username == "" || a.Username == derived || guardrails.Trusted(p.ae.Namespace, r.TrustedNamespaces) {
		return a, nil
	}
	j, err := r.judgeAt(ctx, r.Client, p.ae, id)
	if err != nil {
		return a, err
	}
	if j == nil || !j.verdict.EntryAllowed || j.verdict.Restrict(plan.Desired{Identity: id, Username: a.Username}).Username != a.Username {
		a.Username = derived
	}
	return a, nil
}

// reportExpiry tells what an expiry removed: an event, one log line and the
// metrics.
func (r *AccessEntryReconciler) reportExpiry(ctx context.Context, p *entryPass, id v1.EntryIdentity, removal plan.Removal) {
	at := p.ae.Spec.ExpiresAt.Time
	late := time.Since(at)
	ctrl.LoggerFrom(ctx).Info("a time-bound grant expired", "principal", id.PrincipalARN, "cluster", id.ClusterName, "account", id.Account,
		"region", id.Region, "expiresAt", at.UTC().Format(time.RFC3339), "entry", removal.String(), "revokedAfter", late.Round(time.Millisecond).String())
	switch removal {
	case plan.RemovalDelete:
		grantsExpired.Inc()
		expiryRevocation.Observe(late.Seconds())
		p.event(corev1.EventTypeNormal, v1.ReasonExpired, "deleted the EKS access entry of %s in cluster %s: spec.expiresAt %s passed",
			id.PrincipalARN, id.ClusterName, at.UTC().Format(time.RFC3339))
	case plan.RemovalGiveBack:
		grantsExpired.Inc()
		expiryRevocation.Observe(late.Seconds())
		p.event(corev1.EventTypeNormal, v1.ReasonExpired, "took away what this object added to the adopted EKS access entry of %s in cluster %s, and its ownership tags: spec.expiresAt %s passed; the entry stays as it was adopted",
			id.PrincipalARN, id.ClusterName, at.UTC().Format(time.RFC3339))
	case plan.RemovalNotOurs:
		p.event(corev1.EventTypeWarning, "NotRevoked", "spec.expiresAt %s passed, but the EKS access entry of %s in cluster %s is not this object's: it stays as it is",
			at.UTC().Format(time.RFC3339), id.PrincipalARN, id.ClusterName)
	}
}
