package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// removeEntry deletes the EKS entry of an object being deleted: the one status
// records, where status says it is; only if the object owns it, and never under
// deletionPolicy Retain where it is honoured (retains). What it did is in
// p.removal for releaseFinalizer.
func (r *AccessEntryReconciler) removeEntry(ctx context.Context, p *entryPass) error {
	id := p.ae.Status.Identity
	var t awsapi.Target
	if id == nil {
		// Nothing was created (the identity is recorded before any create); look
		// at the spec's entry only to say that deleting the object revoked nothing.
		if r.resolveConfig(ctx, p) != nil {
			return nil
		}
		id, t = &p.id, p.target
	} else {
		var err error
		if t, err = r.recordedTarget(ctx, p, *id); err != nil {
			return err
		}
	}
	retain, err := r.retains(ctx, p, *id)
	if err != nil {
		return err
	}
	if !retain {
		p.progress(v1.ReasonDeleting, "deleting the EKS access entry")
	}
	// Retained as it is, the entry needs no read: nothing will claim it back.
	removal := plan.RemovalKeep
	if !retain {
		if removal, err = r.remove(ctx, p, entryAt{id: *id, target: t}, false); err != nil {
			return err
		}
	}
	if removal == plan.RemovalWait {
		return waitFor(v1.ReasonWaitingForEKS, "the EKS access entry was just created and is not visible yet, so it cannot be deleted yet")
	}
	p.removed, p.removal = *id, removal
	return nil
}

// releaseFinalizer lets the object go once its entry is dealt with, and says what
// became of the entry.
func (r *AccessEntryReconciler) releaseFinalizer(ctx context.Context, p *entryPass) error {
	released := p.ae.DeepCopy()
	controllerutil.RemoveFinalizer(released, v1.Finalizer)
	if err := r.Patch(ctx, released, client.MergeFrom(p.ae)); err != nil {
		return client.IgnoreNotFound(err)
	}
	r.forget(p.ae)
	switch {
	case p.removal == plan.RemovalDelete:
		p.event(corev1.EventTypeNormal, "Deleted", "deleted the EKS access entry of %s in cluster %s", p.removed.PrincipalARN, p.removed.ClusterName)
	case p.removal == plan.RemovalKeep && p.ae.Status.Identity != nil:
		p.event(corev1.EventTypeNormal, "Retained", "left the EKS access entry of %s in cluster %s in place (deletionPolicy Retain)", p.removed.PrincipalARN, p.removed.ClusterName)
	case p.removal == plan.RemovalNotOurs:
		p.event(corev1.EventTypeWarning, "NotRevoked", "the EKS access entry of %s in cluster %s is not this object's, so deleting the object revoked nothing: the entry stays as it is",
			p.removed.PrincipalARN, p.removed.ClusterName)
	}
	return nil
}
