package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
)

// retains reports whether the object's deletionPolicy Retain is honoured for its
// entry of id: always in a trusted namespace; elsewhere only while a rule of the
// entry's cluster allows the object all it asks, Retain included (allowRetain).
// Otherwise the entry goes with the object: a grant never outlives the tenant's
// right to it, and a leftover no rule allows would be nobody's to judge.
func (r *AccessEntryReconciler) retains(ctx context.Context, p *entryPass, id v1.EntryIdentity) (bool, error) {
	ae := p.ae
	if ae.Spec.DeletionPolicy != v1.DeletionPolicyRetain {
		return false, nil
	}
	if guardrails.Trusted(ae.Namespace, r.TrustedNamespaces) {
		return true, nil
	}
	cac, err := r.clusterConfig(ctx, id.ClusterName, id.Region)
	if err != nil {
		return false, err
	}
	keeps := false
	if cac != nil {
		labels, err := r.namespaceLabels(ctx, ae.Namespace, cac)
		if err != nil {
			return false, err
		}
		keeps = guardrails.Judge(guardrailConfig(cac), guardrails.RequestFor(ae, labels)).KeepsRetain()
	}
	if !keeps {
		p.event(corev1.EventTypeWarning, "RetainNotAllowed",
			"deletionPolicy Retain is not honoured: no guardrail rule allows it for this AccessEntry, so its EKS access entry of %s is deleted. Fix: ask the platform team for allowRetain on the rule that admits this namespace",
			id.PrincipalARN)
	}
	return keeps, nil
}
