package controllers

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
)

// clusterGuardrails is what the guardrails know of a ClusterAccessConfig, with the
// cluster's namespaces and their labels (from the cache) when a rule selects
// namespaces by label: what a selector-admitted namespace claims through
// {{namespace}} patterns is refused to the others.
func clusterGuardrails(ctx context.Context, c client.Reader, cac *v1.ClusterAccessConfig) (guardrails.Config, error) {
	cfg := guardrailConfig(cac)
	if !slices.ContainsFunc(cac.Spec.Guardrails.Rules, func(g v1.GrantRule) bool { return g.Namespaces.Selector != nil }) {
		return cfg, nil
	}
	list := &corev1.NamespaceList{}
	if err := c.List(ctx, list); err != nil {
		return cfg, err
	}
	cfg.Namespaces = make(map[string]map[string]string, len(list.Items))
	for _, ns := range list.Items {
		cfg.Namespaces[ns.Name] = ns.Labels
	}
	return cfg, nil
}

// entriesNearNamespace lists the AccessEntries of a namespace and, when a rule of a
// ClusterAccessConfig selects the namespace by its labels, every AccessEntry of
// that config's cluster: a namespace that a selector starts or stops admitting
// (created, labelled, deleted) changes what its siblings may hold. The handler
// maps both the old and the new object of an update.
func (r *AccessEntryReconciler) entriesNearNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	reqs := r.entriesInNamespace(ctx, o)
	configs := &v1.ClusterAccessConfigList{}
	if err := r.List(ctx, configs); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing ClusterAccessConfigs", "for namespace", o.GetName())
		return reqs
	}
	for i := range configs.Items {
		if !selects(&configs.Items[i], o.GetLabels()) {
			continue
		}
		// Names only, from the cache's own objects: at start-up every namespace
		// arrives as a create, and copying the cluster's entries for each would cost
		// namespaces x entries.
		list := &v1.AccessEntryList{}
		if err := r.List(ctx, list, client.MatchingFields{clusterNameField: configs.Items[i].Spec.ClusterName}, client.UnsafeDisableDeepCopy); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "listing AccessEntries", "of cluster", configs.Items[i].Spec.ClusterName)
			continue
		}
		for j := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[j])})
		}
	}
	return reqs
}

// selects reports whether a rule of the config admits a namespace with these
// labels by its selector.
func selects(cac *v1.ClusterAccessConfig, nsLabels map[string]string) bool {
	return slices.ContainsFunc(cac.Spec.Guardrails.Rules, func(g v1.GrantRule) bool {
		if g.Namespaces.Selector == nil {
			return false
		}
		sel, err := metav1.LabelSelectorAsSelector(g.Namespaces.Selector)
		return err == nil && !sel.Empty() && sel.Matches(labels.Set(nsLabels))
	})
}

// logOverlaps tells the platform team, when an object is first refused, which
// other namespace claims what it asked for: the object's status may not say.
func logOverlaps(ctx context.Context, p *entryPass, v guardrails.Verdict) {
	if len(v.Overlaps) == 0 {
		return
	}
	log := ctrl.LoggerFrom(ctx)
	if p.readyBefore == string(metav1.ConditionFalse)+"/"+v1.ReasonNotPermitted {
		log = log.V(1)
	}
	overlaps := make([]string, 0, len(v.Overlaps))
	for _, o := range v.Overlaps {
		overlaps = append(overlaps, o.String())
	}
	log.Info("refused values another admitted namespace claims: the rule's {{namespace}} patterns reach beyond the namespace",
		"clusterAccessConfig", v.Config, "rule", v.Rule, "overlaps", overlaps)
}
