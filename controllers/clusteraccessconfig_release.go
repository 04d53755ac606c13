package controllers

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups=eksaccess.io,resources=clusteraccessconfigs,verbs=update;patch
// +kubebuilder:rbac:groups=eksaccess.io,resources=clusteraccessconfigs/finalizers,verbs=update

// identityClusterField selects AccessEntries by the cluster of the entry their
// status records (a selectable field of the CRD), to find those that still
// depend on a config after their spec moved away.
const identityClusterField = "status.identity.clusterName"

// protect adds the finalizer that keeps a ClusterAccessConfig while AccessEntries
// depend on it: without it, their entries would be looked for with the operator's
// own credentials and region, and found absent.
func (r *ClusterAccessConfigReconciler) protect(ctx context.Context, p *clusterPass) error {
	if controllerutil.ContainsFinalizer(p.cac, v1.Finalizer) {
		return nil
	}
	held := p.cac.DeepCopy()
	controllerutil.AddFinalizer(held, v1.Finalizer)
	if err := r.Patch(ctx, held, client.MergeFrom(p.cac)); err != nil {
		return err
	}
	p.cac.Finalizers = held.Finalizers
	return nil
}

// release lets a ClusterAccessConfig being deleted go once no AccessEntry depends
// on it (the way a PersistentVolumeClaim in use is protected), or at once when it
// is annotated eksaccess.io/release: "true". Until then it says who still uses it.
func (r *ClusterAccessConfigReconciler) release(ctx context.Context, p *clusterPass) error {
	if !controllerutil.ContainsFinalizer(p.cac, v1.Finalizer) {
		return nil
	}
	users, err := r.dependents(ctx, p.cac)
	if err != nil {
		return err
	}
	if len(users) > 0 && p.cac.Annotations[v1.ReleaseAnnotation] != "true" {
		shown := users[:min(len(users), 10)]
		return retryAfter(v1.ReasonInUse, r.PollInterval,
			"ClusterAccessConfig %s is still used by %d AccessEntries (%s): it is deleted once they are deleted or no longer name cluster %s. "+
				"Fix: delete or move them, or annotate this config with %s: \"true\" to let it go now (their entries are then reached with the operator's own credentials and region)",
			p.cac.Name, len(users), strings.Join(shown, ", "), p.cac.Spec.ClusterName, v1.ReleaseAnnotation)
	}
	released := p.cac.DeepCopy()
	controllerutil.RemoveFinalizer(released, v1.Finalizer)
	if err := r.Patch(ctx, released, client.MergeFrom(p.cac)); err != nil {
		return client.IgnoreNotFound(err)
	}
	p.released = true
	r.fullPasses.Delete(p.cac.UID)
	return nil
}

// dependents lists the AccessEntries that depend on a ClusterAccessConfig: those
// whose spec names its cluster and region, and those whose status still records
// an entry there. They are read from the API server, across every shard.
func (r *ClusterAccessConfigReconciler) dependents(ctx context.Context, cac *v1.ClusterAccessConfig) ([]string, error) {
	region := cmp.Or(cac.Spec.Region, r.DefaultRegion)
	var users []string
	for _, field := range []string{clusterNameField, identityClusterField} {
		list := &v1.AccessEntryList{}
		if err := r.APIReader.List(ctx, list, client.MatchingFields{field: cac.Spec.ClusterName}); err != nil {
			return nil, err
		}
		for _, ae := range list.Items {
			name := ae.Namespace + "/" + ae.Name
			if slices.Contains(users, name) || !dependsOn(&ae, cac, region, r.DefaultRegion) {
				continue
			}
			users = append(users, name)
		}
	}
	slices.Sort(users)
	return users, nil
}

// dependsOn reports whether an AccessEntry uses a config: its spec resolves to the
// config's cluster and region, or its status records an entry in the cluster,
// region and account the config reaches.
func dependsOn(ae *v1.AccessEntry, cac *v1.ClusterAccessConfig, region, defaultRegion string) bool {
	if ae.Spec.ClusterName == cac.Spec.ClusterName && cmp.Or(ae.Spec.Region, defaultRegion) == region {
		return true
	}
	id := ae.Status.Identity
	return id != nil && id.ClusterName == cac.Spec.ClusterName && id.Region == region &&
		(id.Account == "" || cac.Status.AccountID == "" || id.Account == cac.Status.AccountID)
}

// keepTarget records the role, external ID and region the config reaches its
// cluster with; when they change, the previous ones are kept in
// status.retiredTargets, so that entries made through them can still be deleted.
func keepTarget(cac *v1.ClusterAccessConfig, region string) {
	now := v1.ClusterTarget{Region: region, RoleARN: cac.Spec.RoleARN, ExternalID: cac.Spec.ExternalID}
	st := &cac.Status
	if st.Target != nil && *st.Target != now {
		st.RetiredTargets = slices.DeleteFunc(st.RetiredTargets, func(t v1.ClusterTarget) bool { return t == *st.Target || t == now })
		st.RetiredTargets = append(st.RetiredTargets, *st.Target)
		st.RetiredTargets = st.RetiredTargets[max(0, len(st.RetiredTargets)-maxRetiredTargets):]
	}
	st.Target = &now
}

// maxRetiredTargets bounds status.retiredTargets.
const maxRetiredTargets = 8
