package controllers

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// applyPlan writes what differs between the spec and the entry EKS showed
// (plan.Compute): username and groups, tags, policies. Spec tags are recorded as
// managed before they are written, so that a crash in between cannot leave a tag
// nobody removes. A write to an entry that was Ready at this generation is drift.
func (r *AccessEntryReconciler) applyPlan(ctx context.Context, p *entryPass) error {
	p.desired = plan.DesiredFor(p.ae, p.id, r.InstanceID)
	if pl := plan.Compute(p.desired, *p.obs, p.ae.Status.ManagedTags); !pl.Empty() {
		p.progress(v1.ReasonProgressing, "updating the EKS access entry")
		if err := r.write(ctx, p, p.desired, pl); err != nil {
			return err
		}
		switch {
		case !p.written && p.synced:
			driftCorrections.Inc()
			p.event(corev1.EventTypeNormal, "DriftCorrected", "put back %d out-of-band change(s) to the EKS access entry", pl.Writes())
		case !p.written:
			p.event(corev1.EventTypeNormal, "Updated", "updated the EKS access entry (%d change(s))", pl.Writes())
		}
		p.written = true
	}
	p.ae.Status.ManagedTags = p.desired.SpecTagKeys
	return nil
}

// write applies a plan to the entry of the pass, as obs shows it, and folds into
// obs what EKS accepted. Spec tags are recorded as managed before they are
// written, so that a crash in between cannot leave a tag nobody removes.
func (r *AccessEntryReconciler) write(ctx context.Context, p *entryPass, desired plan.Desired, pl plan.Plan) error {
	obs := p.obs
	if len(pl.SetTags) > 0 {
		if err := r.recordIntent(ctx, p, func(st *v1.AccessEntryStatus) {
			st.ManagedTags = union(st.ManagedTags, desired.SpecTagKeys)
		}); err != nil {
			return err
		}
	}
	if err := p.eks.Apply(ctx, awsapi.Entry{ID: p.id, ARN: obs.ARN}, pl, obs); err != nil {
		return r.eksOutcome(p.id, err)
	}
	return nil
}

// confirm records in status what EKS holds: the entry as the pass read it, with
// what EKS answered to the pass's writes (CreateAccessEntry and UpdateAccessEntry
// answer with the entry, AssociateAccessPolicy with the association, as EKS now
// holds them), so that a write needs no read-back. Ready (by summarize) when that
// shows the spec, and the entry counts as verified now; otherwise the next pass
// reads it. The next verification reads it in full again.
func (r *AccessEntryReconciler) confirm(_ context.Context, p *entryPass) error {
	recordObserved(p.ae, p.obs)
	if p.written && !plan.Compute(p.desired, *p.obs, p.ae.Status.ManagedTags).Empty() {
		return waitFor(v1.ReasonWaitingForEKS, "EKS's answers do not show the changes yet")
	}
	// The entry is reached, now, the way this pass reached it.
	p.ae.Status.RoleARN = p.target.RoleARN
	now := metav1.Now()
	p.ae.Status.LastVerifiedAt = &now
	p.ae.Status.LastHandledVerify = p.ae.Annotations[v1.VerifyAnnotation]
	r.Suspects.Settled(p.ae.UID, p.suspicion)
	return nil
}

// observe reads the entry of the pass, with its policies where it has or the
// spec declares some (awsapi.EKS.Observe); nil when EKS has no such entry.
func (r *AccessEntryReconciler) observe(ctx context.Context, p *entryPass) (*plan.Observed, error) {
	return p.eks.Observe(ctx, p.id, len(p.ae.Spec.AccessPolicies) > 0)
}

// union is the sorted union of two sets of keys.
func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
