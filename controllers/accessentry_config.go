package controllers

import (
	"cmp"
	"context"
	"sync"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// clusterNameField indexes AccessEntries by spec.clusterName, to find those a
// ClusterAccessConfig governs.
const clusterNameField = "spec.clusterName"

// indexed remembers the field indexers that hold clusterNameField: both
// controllers need it, either may run alone, and an informer refuses a second
// registration of the same index.
var indexed sync.Map

// indexAccessEntriesByCluster registers clusterNameField with the manager's cache,
// once per manager.
func indexAccessEntriesByCluster(mgr ctrl.Manager) error {
	indexer := mgr.GetFieldIndexer()
	once, _ := indexed.LoadOrStore(indexer, &sync.Once{})
	var err error
	once.(*sync.Once).Do(func() {
		err = indexer.IndexField(context.Background(), &v1.AccessEntry{}, clusterNameField, func(o client.Object) []string {
			return []string{o.(*v1.AccessEntry).Spec.ClusterName}
		})
	})
	return err
}

// resolveConfig finds the ClusterAccessConfig of the object's cluster (nil when
// there is none), resolves the region, and picks the EKS client of the target the
// config names. Reads the cache only. Stalls with NoRegion when no region is known;
// waits while the cluster is UPDATING.
func (r *AccessEntryReconciler) resolveConfig(ctx context.Context, p *entryPass) error {
	cac, err := r.clusterConfig(ctx, p.ae.Spec.ClusterName, p.ae.Spec.Region)
	if err != nil {
		return err
	}
	id, ok := r.identity(p.ae, cac)
	if !ok {
		return stall(v1.ReasonNoRegion, 0, "spec.region is empty and the operator has no default region: set spec.region or start the operator with --region")
	}
	p.cac, p.id = cac, id
	p.target = target(id.Region, cac)
	p.eks = r.EKS.For(p.target)
	if cac != nil && cac.Status.ClusterStatus == "UPDATING" {
		// The ClusterAccessConfig watch brings the object back when the cluster is ACTIVE.
		return retryAfter(v1.ReasonClusterUpdating, r.RecheckInterval, "cluster %s is UPDATING (authentication mode); waiting for it to be ACTIVE", cac.Spec.ClusterName)
	}
	return nil
}

// clusterConfig finds the ClusterAccessConfig of a cluster: same name, and the same
// region when one is given. nil when there is none.
func (r *AccessEntryReconciler) clusterConfig(ctx context.Context, cluster, region string) (*v1.ClusterAccessConfig, error) {
	list := &v1.ClusterAccessConfigList{}
	if err := r.List(ctx, list); err != nil {
		return nil, err
	}
	for i, c := range list.Items {
		if c.Spec.ClusterName != cluster {
			continue
		}
		if region == "" || cmp.Or(c.Spec.Region, r.DefaultRegion) == region {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}

// target is where the calls for a cluster go: its ClusterAccessConfig's role, if any.
func target(region string, cac *v1.ClusterAccessConfig) Target {
	t := Target{Region: region}
	if cac != nil {
		t.RoleARN, t.ExternalID = cac.Spec.RoleARN, cac.Spec.ExternalID
	}
	return t
}

// clientFor is the EKS client of a recorded identity, through the
// ClusterAccessConfig that governs its cluster now.
func (r *AccessEntryReconciler) clientFor(ctx context.Context, id v1.EntryIdentity) (EKSAPI, error) {
	cac, err := r.clusterConfig(ctx, id.ClusterName, id.Region)
	if err != nil {
		return nil, err
	}
	return r.EKS.For(target(id.Region, cac)), nil
}

// identity is the spec's identity, with the region resolved (the spec's, its
// ClusterAccessConfig's, or the operator's default); false without a region.
func (r *AccessEntryReconciler) identity(ae *v1.AccessEntry, cac *v1.ClusterAccessConfig) (v1.EntryIdentity, bool) {
	region := ae.Spec.Region
	if region == "" && cac != nil {
		region = cac.Spec.Region
	}
	region = cmp.Or(region, r.DefaultRegion)
	return v1.EntryIdentity{ClusterName: ae.Spec.ClusterName, Region: region, PrincipalARN: ae.Spec.PrincipalARN, Type: ae.Spec.EntryType()}, region != ""
}
