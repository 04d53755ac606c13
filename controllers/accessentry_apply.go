package controllers

import (
	"context"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	corev1 "k8s.io/api/core/v1"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
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
		if err := r.write(ctx, p, p.desired, p.obs.ARN, pl); err != nil {
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

// write applies a plan to the entry of the pass. Spec tags are recorded as managed
// before they are written, so that a crash in between cannot leave a tag nobody
// removes.
func (r *AccessEntryReconciler) write(ctx context.Context, p *entryPass, desired plan.Desired, entryARN string, pl plan.Plan) error {
	if len(pl.SetTags) > 0 {
		if err := r.recordIntent(ctx, p, func(st *v1.AccessEntryStatus) {
			st.ManagedTags = union(st.ManagedTags, desired.SpecTagKeys)
		}); err != nil {
			return err
		}
	}
	if err := r.apply(ctx, p.eks, p.id, entryARN, pl); err != nil {
		return r.eksOutcome(p.id, err)
	}
	return nil
}

// confirm reads the entry back after a pass that wrote it, and records in status
// what EKS holds. Ready (by summarize) only when EKS shows the spec; otherwise it
// waits for EKS to catch up.
func (r *AccessEntryReconciler) confirm(ctx context.Context, p *entryPass) error {
	if p.written {
		obs, err := r.observe(ctx, p.eks, p.id)
		if err != nil {
			return r.eksOutcome(p.id, err)
		}
		if obs == nil {
			return waitFor(v1.ReasonWaitingForEKS, "the EKS access entry was written but does not read back yet")
		}
		p.obs = obs
		if !plan.Compute(p.desired, *obs, p.ae.Status.ManagedTags).Empty() {
			recordObserved(p.ae, obs)
			return waitFor(v1.ReasonWaitingForEKS, "EKS does not show the changes yet")
		}
	}
	recordObserved(p.ae, p.obs)
	// The entry is reached, now, the way this pass reached it.
	p.ae.Status.RoleARN = p.target.RoleARN
	return nil
}

// observe reads the entry and, for STANDARD entries only, its policies (listing
// them for any other type is an error in EKS). nil when EKS has no such entry.
func (r *AccessEntryReconciler) observe(ctx context.Context, cl EKSAPI, id v1.EntryIdentity) (*plan.Observed, error) {
	out, err := cl.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{
		ClusterName: aws.String(id.ClusterName), PrincipalArn: aws.String(id.PrincipalARN),
	})
	if err != nil {
		if classify(err) == errNotFound {
			return nil, nil
		}
		return nil, err
	}
	obs := observedEntry(out.AccessEntry)
	if obs.Type != string(v1.TypeStandard) {
		return obs, nil
	}
	obs.Policies = map[string]plan.ObservedPolicy{}
	pages := eks.NewListAssociatedAccessPoliciesPaginator(cl, &eks.ListAssociatedAccessPoliciesInput{
		ClusterName: aws.String(id.ClusterName), PrincipalArn: aws.String(id.PrincipalARN), MaxResults: aws.Int32(100),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			if classify(err) == errNotFound {
				return nil, nil
			}
			return nil, err
		}
		for _, a := range page.AssociatedAccessPolicies {
			op := plan.ObservedPolicy{AssociatedAt: aws.ToTime(a.AssociatedAt), ModifiedAt: aws.ToTime(a.ModifiedAt)}
			if a.AccessScope != nil {
				op.Scope = plan.Scope{Type: string(a.AccessScope.Type), Namespaces: plan.Sorted(a.AccessScope.Namespaces)}
			}
			obs.Policies[aws.ToString(a.PolicyArn)] = op
		}
	}
	return obs, nil
}

// apply makes the plan's writes: username and groups together, tags, then policies.
func (r *AccessEntryReconciler) apply(ctx context.Context, cl EKSAPI, id v1.EntryIdentity, entryARN string, p plan.Plan) error {
	cluster, principal := aws.String(id.ClusterName), aws.String(id.PrincipalARN)
	if p.Update != nil {
		if _, err := cl.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{
			ClusterName: cluster, PrincipalArn: principal, Username: p.Update.Username, KubernetesGroups: p.Update.Groups,
		}); err != nil {
			return errorf(err, "updating username and groups")
		}
	}
	if len(p.SetTags) > 0 {
		if _, err := cl.TagResource(ctx, &eks.TagResourceInput{ResourceArn: aws.String(entryARN), Tags: p.SetTags}); err != nil {
			return errorf(err, "tagging the entry")
		}
	}
	if len(p.RemoveTags) > 0 {
		if _, err := cl.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: aws.String(entryARN), TagKeys: p.RemoveTags}); err != nil {
			return errorf(err, "untagging the entry")
		}
	}
	for _, arn := range slices.Sorted(maps.Keys(p.Associate)) {
		scope := p.Associate[arn]
		if _, err := cl.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{
			ClusterName: cluster, PrincipalArn: principal, PolicyArn: aws.String(arn),
			AccessScope: &types.AccessScope{Type: types.AccessScopeType(scope.Type), Namespaces: scope.Namespaces},
		}); err != nil {
			return errorf(err, "associating %s", arn)
		}
	}
	for _, arn := range p.Disassociate {
		if _, err := cl.DisassociateAccessPolicy(ctx, &eks.DisassociateAccessPolicyInput{
			ClusterName: cluster, PrincipalArn: principal, PolicyArn: aws.String(arn),
		}); err != nil && classify(err) != errNotFound {
			return errorf(err, "disassociating %s", arn)
		}
	}
	return nil
}

func observedEntry(e *types.AccessEntry) *plan.Observed {
	if e == nil {
		return &plan.Observed{}
	}
	return &plan.Observed{
		ARN:        aws.ToString(e.AccessEntryArn),
		Type:       aws.ToString(e.Type),
		Username:   aws.ToString(e.Username),
		Groups:     e.KubernetesGroups,
		Tags:       e.Tags,
		CreatedAt:  aws.ToTime(e.CreatedAt),
		ModifiedAt: aws.ToTime(e.ModifiedAt),
	}
}

// union is the sorted union of two sets of keys.
func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
