package controllers

import (
	"context"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
)

// places says where a tenant's object stands among the tenants' AccessEntries
// of its cluster and region, for the entry limits (guardrails.PlacesOf): read
// from the cache, without copying the objects.
func (r *AccessEntryReconciler) places(ctx context.Context, ae *v1.AccessEntry, cfg guardrails.Config) (guardrails.Places, error) {
	list := &v1.AccessEntryList{}
	if err := r.List(ctx, list, client.MatchingFields{clusterNameField: ae.Spec.ClusterName}, client.UnsafeDisableDeepCopy); err != nil {
		return guardrails.Places{}, err
	}
	region, now := r.regionOf(ae), time.Now()
	all := make([]guardrails.Standing, 0, len(list.Items))
	for i := range list.Items {
		o := &list.Items[i]
		if o.DeletionTimestamp.IsZero() && r.regionOf(o) == region && !guardrails.Trusted(o.Namespace, r.TrustedNamespaces) {
			id := o.Status.Identity
			holds := id != nil && id.ClusterName == ae.Spec.ClusterName && id.Region == region && o.Status.AccessEntryARN != ""
			if !holds && o.Spec.Expired(now) {
				continue // a record of a grant that ended takes no place
			}
			all = append(all, guardrails.Standing{Namespace: o.Namespace, Name: o.Name, Created: o.CreationTimestamp.Time, Holds: holds})
		}
	}
	return guardrails.PlacesOf(all, ae.Namespace, ae.Name, func(ns string) int { return cfg.LimitOf(ns, cfg.Namespaces[ns]) }), nil
}

// affected maps a change of an AccessEntry to the objects it concerns beyond
// itself: tenant objects naming a principal a platform object declares
// (tenantRivals), and, when a tenant's object goes, the tenant objects of its
// cluster refused (a limit may have let one in).
func (r *AccessEntryReconciler) affected(ctx context.Context, o client.Object) []reconcile.Request {
	reqs := r.tenantRivals(ctx, o)
	ae, ok := o.(*v1.AccessEntry)
	if !ok || ae.DeletionTimestamp.IsZero() || guardrails.Trusted(ae.Namespace, r.TrustedNamespaces) {
		return reqs
	}
	list := &v1.AccessEntryList{}
	if err := r.List(ctx, list, client.MatchingFields{clusterNameField: ae.Spec.ClusterName}, client.UnsafeDisableDeepCopy); err != nil {
		return reqs
	}
	for i := range list.Items {
		w := &list.Items[i]
		if w.UID != ae.UID && readyReason(w) == v1.ReasonNotPermitted && !guardrails.Trusted(w.Namespace, r.TrustedNamespaces) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(w)})
		}
	}
	return reqs
}
