package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// keepsAsHeld reports whether a rule that allows Retain allows all the entry
// of id holds, as status last saw it: the spec may have changed since (a move
// to a new principal under Retain asks for less than the old entry holds, a
// spec change racing a delete is not applied yet), and what is kept is the
// entry, not the spec.
func keepsAsHeld(cac *v1.ClusterAccessConfig, ae *v1.AccessEntry, labels map[string]string, id v1.EntryIdentity) bool {
	st := &ae.Status
	if st.Identity == nil || *st.Identity != id || st.AccessEntryARN == "" {
		return true // never created, or held elsewhere: nothing recorded to keep
	}
	held := plan.Observed{ARN: st.AccessEntryARN, Type: string(id.Type), Username: st.Username, Groups: st.KubernetesGroups, Policies: map[string]plan.ObservedPolicy{}}
	for _, ap := range st.AccessPolicies {
		held.Policies[ap.PolicyARN] = plan.ObservedPolicy{Scope: plan.Scope{Type: string(ap.AccessScope.Type), Namespaces: ap.AccessScope.Namespaces}}
	}
	l := guardrails.JudgeLeftover(guardrailConfig(cac), ae.Namespace, labels, id, held)
	return !l.Delete && len(revokedBy(plan.Compute(l.Keep, held, nil), held, id.PrincipalARN)) == 0
}

// retains reports whether the object's deletionPolicy Retain is honoured for its
// entry of id: always in a trusted namespace; elsewhere only while a rule of the
// entry's cluster allows the object all it asks, Retain included (allowRetain).
// Otherwise the entry goes with the object: a grant never outlives the tenant's
// right to it, and a leftover no rule allows would be nobody's to judge. A keep
// is decided on the rules as the API server holds them, not as the cache last
// saw them: a platform that just withdrew allowRetain, or the namespace's label,
// is obeyed even when the change has not reached the cache.
func (r *AccessEntryReconciler) retains(ctx context.Context, p *entryPass, id v1.EntryIdentity) (bool, error) {
	ae := p.ae
	if ae.Spec.DeletionPolicy != v1.DeletionPolicyRetain {
		return false, nil
	}
	if guardrails.Trusted(ae.Namespace, r.TrustedNamespaces) {
		return true, nil
	}
	keeps, err := r.retainAllowed(ctx, r.Client, ae, id)
	if keeps && err == nil && r.APIReader != nil {
		keeps, err = r.retainAllowed(ctx, r.APIReader, ae, id)
	}
	if err != nil {
		return false, err
	}
	if !keeps {
		p.event(corev1.EventTypeWarning, "RetainNotAllowed",
			"deletionPolicy Retain is not honoured: no guardrail rule allows it for this AccessEntry, so its EKS access entry of %s is deleted. Fix: ask the platform team for allowRetain on the rule that admits this namespace",
			id.PrincipalARN)
	}
	return keeps, nil
}

// retainAllowed reports whether a rule of the entry's cluster, as reader sees
// the config and the namespace, allows the object all it asks, Retain included,
// and all its entry of id holds.
func (r *AccessEntryReconciler) retainAllowed(ctx context.Context, reader client.Reader, ae *v1.AccessEntry, id v1.EntryIdentity) (bool, error) {
	j, err := r.judgeAt(ctx, reader, ae, id)
	if err != nil || j == nil {
		return false, err
	}
	return j.verdict.KeepsRetain() && keepsAsHeld(j.cac, ae, j.labels, id), nil
}

// judgement is an object judged by the rules of its entry's cluster.
type judgement struct {
	cac     *v1.ClusterAccessConfig
	labels  map[string]string
	verdict guardrails.Verdict
}

// judgeAt judges the object by the rules of the cluster of id, as reader sees
// the config and the namespace: the cache, or the API server itself. nil when
// no ClusterAccessConfig governs the cluster.
func (r *AccessEntryReconciler) judgeAt(ctx context.Context, reader client.Reader, ae *v1.AccessEntry, id v1.EntryIdentity) (*judgement, error) {
	cac, err := r.clusterConfigFrom(ctx, reader, id.ClusterName, id.Region)
	if err != nil || cac == nil {
		return nil, err
	}
	labels, err := r.namespaceLabelsFrom(ctx, reader, ae.Namespace, cac)
	if err != nil {
		return nil, err
	}
	return &judgement{cac: cac, labels: labels, verdict: guardrails.Judge(guardrailConfig(cac), guardrails.RequestFor(ae, labels))}, nil
}
