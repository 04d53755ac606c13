package controllers

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
)

// resolveConfig works out where the object's entry lives: the region (spec.region,
// else the operator's default), the one ClusterAccessConfig of that cluster and
// region (nil when there is none), the role that reaches it, and the account and
// partition its calls act in, which name the entry together with the cluster,
// principal and type. Reads the cache, and STS once for the operator's own
// account. Stalls with NoRegion, or AmbiguousClusterConfig when two configs name
// the cluster and region; waits while the cluster is UPDATING.
func (r *AccessEntryReconciler) resolveConfig(ctx context.Context, p *entryPass) error {
	region := cmp.Or(p.ae.Spec.Region, r.DefaultRegion)
	if region == "" {
		return stall(v1.ReasonNoRegion, 0, "spec.region is empty and the operator has no default region: set spec.region or start the operator with --region")
	}
	cac, err := r.clusterConfig(ctx, p.ae.Spec.ClusterName, region)
	if err != nil {
		return err
	}
	t := target(region, cac)
	account, partition, err := r.AWS.Account(ctx, t)
	if err != nil {
		return r.reachOutcome(t, err)
	}
	p.cac, p.target, p.eks = cac, t, r.AWS.For(t)
	p.id = v1.EntryIdentity{ClusterName: p.ae.Spec.ClusterName, Region: region, Account: account, Partition: partition,
		PrincipalARN: p.ae.Principal(), Type: p.ae.Spec.EntryType()}
	if old := p.ae.Status.Identity; old != nil && old.Account == "" && sameEntry(*old, p.id) {
		// Recorded before identities named their account: the entry is where the
		// spec resolves now, as it was then.
		p.ae.Status.Identity, p.ae.Status.RoleARN = ptr.To(p.id), t.RoleARN
	}
	if cac != nil && cac.Status.ClusterStatus == "UPDATING" {
		// The ClusterAccessConfig watch brings the object back when the cluster is ACTIVE.
		return retryAfter(v1.ReasonClusterUpdating, r.RecheckInterval, "cluster %s is UPDATING (authentication mode); waiting for it to be ACTIVE", cac.Spec.ClusterName)
	}
	return nil
}

// checkPartition refuses a spec naming ARNs of another partition than the
// cluster's region, before anything is sent: EKS in aws-cn knows neither
// principals nor access policies of aws, and the other way round. It runs after
// the guardrails, so that a spec made invalid never keeps them from revoking.
func (r *AccessEntryReconciler) checkPartition(_ context.Context, p *entryPass) error {
	ae, region := p.ae, p.id.Region
	want := awsarn.PartitionOfRegion(region)
	if p, ok := awsarn.ParsePrincipal(ae.Spec.PrincipalARN); ok && p.Partition != want {
		return invalid(v1.ReasonInvalidSpec, nil, "spec.principalARN is in partition %s, but region %s is in partition %s, and a cluster only grants access to principals of its own partition. "+
			"Fix: name the principal as arn:%s:iam::%s:%s/%s%s, or correct spec.region", p.Partition, region, want, want, p.Account, p.Kind, p.Path, p.Name)
	}
	for i, ap := range ae.Spec.AccessPolicies {
		if pol, ok := awsarn.ParsePolicy(ap.PolicyARN); ok && pol.Partition != want {
			return invalid(v1.ReasonInvalidSpec, nil, "spec.accessPolicies[%d].policyARN is in partition %s, but region %s is in partition %s. Fix: use %s",
				i, pol.Partition, region, want, awsarn.PolicyARN(want, pol.Name))
		}
	}
	return nil
}

// sameEntry compares two identities but for the account and partition.
func sameEntry(a, b v1.EntryIdentity) bool {
	a.Account, a.Partition, b.Account, b.Partition = "", "", "", ""
	return a == b
}

// clusterConfig finds the one ClusterAccessConfig of a cluster and region; nil when
// there is none, an AmbiguousClusterConfig outcome when there are several.
func (r *AccessEntryReconciler) clusterConfig(ctx context.Context, cluster, region string) (*v1.ClusterAccessConfig, error) {
	return r.clusterConfigFrom(ctx, r.Client, cluster, region)
}

// clusterConfigFrom is clusterConfig as reader sees the configs: the cache, or
// the API server itself.
func (r *AccessEntryReconciler) clusterConfigFrom(ctx context.Context, reader client.Reader, cluster, region string) (*v1.ClusterAccessConfig, error) {
	found, err := configsOf(ctx, reader, clusterKey{name: cluster, region: region, defaultRegion: r.DefaultRegion})
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	}
	var names []string
	for _, c := range found {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return nil, stall(v1.ReasonAmbiguousClusterConfig, r.RecheckInterval,
		"ClusterAccessConfigs %s all name cluster %s in region %s, and the operator cannot tell which one governs it. Fix: keep one ClusterAccessConfig per cluster and region",
		strings.Join(names, ", "), cluster, region)
}

// target is where the calls for a cluster go: its ClusterAccessConfig's role, if any.
func target(region string, cac *v1.ClusterAccessConfig) awsapi.Target {
	t := awsapi.Target{Region: region}
	if cac != nil {
		t.RoleARN, t.ExternalID = cac.Spec.RoleARN, cac.Spec.ExternalID
	}
	return t
}

// recordedTarget is how to reach the entry of a recorded identity: through the
// role status recorded with it (never anywhere else), with the external ID of the
// ClusterAccessConfig that names that role now or named it before. An identity
// recorded before identities named their account is reached as its cluster's
// config reaches it now.
func (r *AccessEntryReconciler) recordedTarget(ctx context.Context, p *entryPass, id v1.EntryIdentity) (awsapi.Target, error) {
	if id.Account == "" {
		cac, err := r.clusterConfig(ctx, id.ClusterName, id.Region)
		return target(id.Region, cac), err
	}
	t := awsapi.Target{Region: id.Region, RoleARN: p.ae.Status.RoleARN}
	if t.RoleARN == "" {
		return t, nil
	}
	list := &v1.ClusterAccessConfigList{}
	if err := r.List(ctx, list); err != nil {
		return t, err
	}
	for _, c := range list.Items {
		if c.Spec.RoleARN == t.RoleARN {
			t.ExternalID = c.Spec.ExternalID
			return t, nil
		}
	}
	for _, c := range list.Items {
		for _, old := range slices.Backward(c.Status.RetiredTargets) {
			if old.RoleARN == t.RoleARN {
				t.ExternalID = old.ExternalID
				return t, nil
			}
		}
	}
	return t, nil
}

// reachOutcome words a failure to learn the account a target acts in: the role
// cannot be assumed, or STS cannot be reached.
func (r *AccessEntryReconciler) reachOutcome(t awsapi.Target, err error) error {
	switch awsapi.Classify(err) {
	case awsapi.AssumeRoleDenied:
		return stall(v1.ReasonAccessDenied, r.RecheckInterval, "%s", assumeRoleAdvice(err))
	case awsapi.AccessDenied, awsapi.BadCredentials:
		return stall(v1.ReasonAccessDenied, r.RecheckInterval, "the operator cannot act through %s: %s; check the role's trust policy and the external ID of the ClusterAccessConfig",
			describeTarget(t), awsapi.Message(err))
	}
	return failed(v1.ReasonEKSError, err, "learning the account of "+describeTarget(t)+" failed, retrying: "+awsapi.Message(err))
}

// describeTarget says how calls reach a cluster, for messages.
func describeTarget(t awsapi.Target) string {
	if t.RoleARN == "" {
		return "the operator's own credentials"
	}
	return "role " + t.RoleARN
}

// clusterKey names a cluster in a region; a ClusterAccessConfig that names no
// region is in defaultRegion.
type clusterKey struct{ name, region, defaultRegion string }

// configsOf are the ClusterAccessConfigs naming a cluster in a region: one, or
// none, when all is well.
func configsOf(ctx context.Context, reader client.Reader, k clusterKey) ([]*v1.ClusterAccessConfig, error) {
	list := &v1.ClusterAccessConfigList{}
	if err := reader.List(ctx, list); err != nil {
		return nil, err
	}
	var found []*v1.ClusterAccessConfig
	for i, c := range list.Items {
		if c.Spec.ClusterName == k.name && cmp.Or(c.Spec.Region, k.defaultRegion) == k.region {
			found = append(found, &list.Items[i])
		}
	}
	return found, nil
}
