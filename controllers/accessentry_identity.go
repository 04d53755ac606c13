package controllers

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	corev1 "k8s.io/api/core/v1"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// retireOldIdentity runs when the spec's identity (cluster, region, principal or
// type) differs from the one status records: EKS can change none of them, so the
// old entry is deleted (unless deletionPolicy is Retain, or it is not ours) and
// status forgets it at once. Until status no longer names it, a crash resumes here,
// and a second delete of an entry already gone is success.
func (r *AccessEntryReconciler) retireOldIdentity(ctx context.Context, p *entryPass) error {
	old := p.ae.Status.Identity
	if old == nil || *old == p.id {
		return nil
	}
	// One principal has one entry per cluster: a type change cannot keep the old one.
	sameSlot := old.ClusterName == p.id.ClusterName && old.Region == p.id.Region && old.PrincipalARN == p.id.PrincipalARN
	retain := p.ae.Spec.DeletionPolicy == v1.DeletionPolicyRetain && !sameSlot
	if retain {
		p.progress(v1.ReasonProgressing, "keeping the EKS access entry of "+old.PrincipalARN+" in cluster "+old.ClusterName+" (Retain) and creating the new one")
	} else {
		p.progress(v1.ReasonProgressing, "deleting the EKS access entry of "+old.PrincipalARN+" in cluster "+old.ClusterName+" before creating the new one")
	}
	removal, err := r.remove(ctx, p, *old, retain)
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
	p.event(corev1.EventTypeNormal, "Recreating", "the identity changed: %s the EKS access entry of %s in cluster %s", what, old.PrincipalARN, old.ClusterName)
	kept := ""
	if retain {
		kept = p.ae.Status.AccessEntryARN
	}
	return r.resetStatus(ctx, p, kept)
}

// remove acts on plan.DecideRemoval for the entry of id: under retain it reads
// nothing; otherwise it reads the entry (through the ClusterAccessConfig that
// governs its cluster now) and deletes it when the object owns it (plan.Owns: the
// ARN status records, or a create after the recorded intent). It returns
// the decision, RemovalGone when the delete found it gone.
func (r *AccessEntryReconciler) remove(ctx context.Context, p *entryPass, id v1.EntryIdentity, retain bool) (plan.Removal, error) {
	var (
		seen plan.Sighting
		cl   EKSAPI
	)
	in := &eks.DescribeAccessEntryInput{ClusterName: aws.String(id.ClusterName), PrincipalArn: aws.String(id.PrincipalARN)}
	if !retain {
		seen.MayAppear = plan.MayStillAppear(&p.ae.Status, id, time.Now(), r.ConsistencyWindow)
		var err error
		if cl, err = r.clientFor(ctx, id); err != nil {
			return 0, err
		}
		out, err := cl.DescribeAccessEntry(ctx, in)
		switch kind := classify(err); {
		case err == nil:
			seen.Present = true
			seen.Ours = plan.Owns(*observedEntry(out.AccessEntry), plan.RecordOf(&p.ae.Status, id), r.owner(p.ae))
		case kind == errClusterNotFound || kind == errModeNotSupported:
			// Gone, or in CONFIG_MAP mode and so never holding an entry (the mode only moves forward).
			seen.ClusterGone = true
		case kind != errNotFound:
			return 0, r.eksOutcome(id, err)
		}
	}
	removal := plan.DecideRemoval(retain, seen)
	if removal != plan.RemovalDelete {
		return removal, nil
	}
	_, err := cl.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: in.ClusterName, PrincipalArn: in.PrincipalArn})
	switch kind := classify(err); {
	case err == nil:
		return plan.RemovalDelete, nil
	case kind == errNotFound || kind == errClusterNotFound:
		return plan.RemovalGone, nil
	}
	return 0, r.eksOutcome(id, err)
}
