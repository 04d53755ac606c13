package controllers

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// retireOldIdentity runs when the spec's identity (cluster, region, principal or
// type) differs from the one status records: EKS can change none of them, so the
// old entry is deleted (unless deletionPolicy Retain is honoured, or it is not ours) and
// status forgets it at once. Until status no longer names it, a crash resumes here,
// and a second delete of an entry already gone is success.
func (r *AccessEntryReconciler) retireOldIdentity(ctx context.Context, p *entryPass) error {
	old := p.ae.Status.Identity
	if old == nil || *old == p.id {
		return nil
	}
	// One principal has one entry per cluster: a type change cannot keep the old one.
	sameSlot := old.ClusterName == p.id.ClusterName && old.Region == p.id.Region && old.Account == p.id.Account && old.PrincipalARN == p.id.PrincipalARN
	retain := false
	if !sameSlot && !supersededRole(p, *old) {
		var err error
		if retain, err = r.retains(ctx, p, *old); err != nil {
			return err
		}
	}
	if retain {
		p.progress(v1.ReasonProgressing, "keeping the EKS access entry of "+old.PrincipalARN+" in cluster "+old.ClusterName+" (Retain) and creating the new one")
	} else {
		p.progress(v1.ReasonProgressing, "deleting the EKS access entry of "+old.PrincipalARN+" in cluster "+old.ClusterName+" before creating the new one")
	}
	t, err := r.recordedTarget(ctx, p, *old)
	if err != nil {
		return err
	}
	removal, err := r.remove(ctx, p, entryAt{id: *old, target: t}, retain)
	if err != nil {
		return err
	}
	if removal == plan.RemovalWait {
		return waitFor(v1.ReasonWaitingForEKS, "the EKS access entry of the previous identity is not visible yet, so it cannot be deleted yet")
	}
	what := "deleted"
	if retain {
		what = "retained"
	}
	p.event(corev1.EventTypeNormal, "Recreating", "the identity changed: %s the EKS access entry of %s in %s; creating it in %s",
		what, old.PrincipalARN, where(*old, t), where(p.id, p.target))
	return r.resetStatus(ctx, p, retain)
}

// supersededRole reports whether the old identity's principal is a role the
// permission set spec.identityCenter names had before, in the account it
// resolves in now: IAM holds one role per set and account, so that role is
// gone (the set was provisioned again), and its entry, bound to it, grants
// nothing. Such an entry is deleted whatever deletionPolicy says: Retain keeps
// what the object moved away from, not a dead role's. Read from status, not
// from the lookup, so that a pass resumed after a crash decides the same.
func supersededRole(p *entryPass, old v1.EntryIdentity) bool {
	ic := p.ae.Spec.IdentityCenter
	if ic == nil || old.PrincipalARN == p.id.PrincipalARN || !awsapi.IsPermissionSetRole(old.PrincipalARN, ic.PermissionSet) {
		return false
	}
	was, _ := awsarn.AccountOf(old.PrincipalARN)
	now, ok := awsarn.AccountOf(p.id.PrincipalARN)
	return ok && was == now
}

// remove acts on plan.DecideRemoval for the entry of id, reached through t: it
// reads the entry and deletes it when the object owns it (plan.Owns: the ARN status
// records, or a create after the recorded intent). Under retain it reads nothing,
// unless a create was sent under the recorded intent and its answer never
// recorded: then the entry that create made is looked up, and status takes its ARN,
// so that it is kept among the retained entries rather than left unknown (the
// object could not claim it back later). It returns the decision, RemovalGone when
// the delete found it gone.
func (r *AccessEntryReconciler) remove(ctx context.Context, p *entryPass, at entryAt, retain bool) (plan.Removal, error) {
	var seen plan.Sighting
	id, cl := at.id, r.AWS.For(at.target)
	rec := plan.RecordOf(&p.ae.Status, id)
	unanswered := rec.ARN == "" && !rec.IntentAt.IsZero()
	if !retain || unanswered {
		seen.MayAppear = plan.MayStillAppear(&p.ae.Status, id, time.Now(), r.ConsistencyWindow)
		obs, err := cl.Describe(ctx, id.ClusterName, id.PrincipalARN)
		switch kind := awsapi.Classify(err); {
		case err == nil:
			seen.Present = true
			if seen.Ours, err = r.stillOwns(ctx, p, obs, rec); err != nil {
				return 0, err
			}
			if retain && seen.Ours && plan.LostCreate(*obs, rec) {
				p.ae.Status.AccessEntryARN = obs.ARN
				p.ae.Status.ManagedTags = union(p.ae.Status.ManagedTags, plan.WrittenTagKeys(obs.Tags))
			}
		case kind == awsapi.ClusterNotFound || kind == awsapi.ModeNotSupported:
			// Gone, or in CONFIG_MAP mode and so never holding an entry (the mode only moves forward).
			seen.ClusterGone = true
		case kind != awsapi.NotFound:
			return 0, r.eksOutcome(id, err)
		}
	}
	removal := plan.DecideRemoval(retain, seen)
	if removal != plan.RemovalDelete {
		return removal, nil
	}
	return r.deleteEntry(ctx, at)
}

// deleteEntry deletes the entry at at: RemovalDelete, or RemovalGone when EKS
// holds no such entry (or no such cluster).
func (r *AccessEntryReconciler) deleteEntry(ctx context.Context, at entryAt) (plan.Removal, error) {
	err := r.AWS.For(at.target).Delete(ctx, at.id.ClusterName, at.id.PrincipalARN)
	switch kind := awsapi.Classify(err); {
	case err == nil:
		return plan.RemovalDelete, nil
	case kind == awsapi.NotFound || kind == awsapi.ClusterNotFound:
		return plan.RemovalGone, nil
	}
	return 0, r.eksOutcome(at.id, err)
}

// stillOwns reports whether the object owns an entry it is about to delete or
// keep (plan.Owns), and no other AccessEntry has taken it since: an entry the
// object once retained may have been adopted or taken over by another object,
// which records it now, and is then not the object's to delete.
func (r *AccessEntryReconciler) stillOwns(ctx context.Context, p *entryPass, obs *plan.Observed, rec plan.Record) (bool, error) {
	if !plan.Owns(*obs, rec, r.owner(p.ae)) {
		return false, nil
	}
	if rec.ARN != "" && obs.ARN == rec.ARN {
		return true, nil
	}
	by, err := r.recordedBy(ctx, p.ae, obs.ARN)
	return by == nil, err
}

// entryAt is an entry and the target that reaches it.
type entryAt struct {
	id     v1.EntryIdentity
	target awsapi.Target
}

// at is the pass's entry, reached the way the pass reaches it.
func (p *entryPass) at() entryAt { return entryAt{id: p.id, target: p.target} }

// where names the cluster, account and region of an identity and how they are
// reached, for events.
func where(id v1.EntryIdentity, t awsapi.Target) string {
	s := "cluster " + id.ClusterName + " (region " + id.Region
	if id.Account != "" {
		s += ", account " + id.Account
	}
	if t.RoleARN != "" {
		s += ", through role " + t.RoleARN
	}
	return s + ")"
}
