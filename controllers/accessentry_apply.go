package controllers

import (
	"cmp"
	"context"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
		if err := r.write(ctx, p, p.desired, p.obs, pl); err != nil {
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

// write applies a plan to the entry of the pass, as obs shows it, and folds into
// obs what EKS accepted. Spec tags are recorded as managed before they are
// written, so that a crash in between cannot leave a tag nobody removes.
func (r *AccessEntryReconciler) write(ctx context.Context, p *entryPass, desired plan.Desired, obs *plan.Observed, pl plan.Plan) error {
	if len(pl.SetTags) > 0 {
		if err := r.recordIntent(ctx, p, func(st *v1.AccessEntryStatus) {
			st.ManagedTags = union(st.ManagedTags, desired.SpecTagKeys)
		}); err != nil {
			return err
		}
	}
	if err := r.apply(ctx, p.eks, p.id, obs.ARN, pl, obs); err != nil {
		return r.eksOutcome(p.id, err)
	}
	return nil
}

// confirm records in status what EKS holds: the entry as the pass read it, with
// what EKS answered to the pass's writes (CreateAccessEntry and UpdateAccessEntry
// answer with the entry, AssociateAccessPolicy with the association, as EKS now
// holds them), so that a write needs no read-back. Ready (by summarize) when that
// shows the spec, and the entry counts as verified now; otherwise the next pass
// reads it. The next verification reads it in full again.
func (r *AccessEntryReconciler) confirm(_ context.Context, p *entryPass) error {
	recordObserved(p.ae, p.obs)
	if p.written && !plan.Compute(p.desired, *p.obs, p.ae.Status.ManagedTags).Empty() {
		return waitFor(v1.ReasonWaitingForEKS, "EKS's answers do not show the changes yet")
	}
	// The entry is reached, now, the way this pass reached it.
	p.ae.Status.RoleARN = p.target.RoleARN
	now := metav1.Now()
	p.ae.Status.LastVerifiedAt = &now
	p.ae.Status.LastHandledVerify = p.ae.Annotations[v1.VerifyAnnotation]
	r.suspects.Delete(p.ae.UID)
	return nil
}

// observe reads the entry of the pass and, for the types that carry them (and
// the others when the spec declares some), its policies: EKS answers
// ListAssociatedAccessPolicies on an EC2_LINUX or EC2_WINDOWS entry with an
// error. nil when EKS has no such entry.
func (r *AccessEntryReconciler) observe(ctx context.Context, p *entryPass) (*plan.Observed, error) {
	cl, id := p.eks, p.id
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
	typ := v1.AccessEntryType(obs.Type)
	if !typ.ListsPolicies() && (!typ.TakesPolicies() || len(p.ae.Spec.AccessPolicies) == 0) {
		return obs, nil
	}
	if obs.Policies, err = listPolicies(ctx, cl, id.ClusterName, id.PrincipalARN); err != nil {
		if classify(err) == errNotFound {
			return nil, nil
		}
		return nil, err
	}
	return obs, nil
}

// apply makes the plan's writes: username and groups together, policies, then
// tags. A write EKS refuses does not stop the others, so that one refused change
// (tags that no longer fit, say) never keeps the rest of the entry from being
// corrected; the refusal is returned once the others are made, one caused from
// outside the spec ahead of one the spec causes. Any other error stops at once.
//
// after is the entry before the writes; each write EKS accepts is folded into it,
// from EKS's answer where it gives one.
func (r *AccessEntryReconciler) apply(ctx context.Context, cl EKSAPI, id v1.EntryIdentity, entryARN string, p plan.Plan, after *plan.Observed) error {
	cluster, principal := aws.String(id.ClusterName), aws.String(id.PrincipalARN)
	var refusedSpec, refusedOutside error
	check := func(err error, format string, args ...any) error {
		if err == nil {
			return nil
		}
		err = errorf(err, format, args...)
		switch classify(err) {
		case errInvalidSpec:
			refusedSpec = cmp.Or(refusedSpec, err)
		case errRefused:
			refusedOutside = cmp.Or(refusedOutside, err)
		default:
			return err
		}
		return nil
	}
	if p.Update != nil {
		out, err := cl.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{
			ClusterName: cluster, PrincipalArn: principal, Username: p.Update.Username, KubernetesGroups: p.Update.Groups,
		})
		if err := check(err, "updating username and groups"); err != nil {
			return err
		}
		if err == nil && out.AccessEntry != nil {
			after.Username, after.Groups = aws.ToString(out.AccessEntry.Username), out.AccessEntry.KubernetesGroups
			after.ModifiedAt = aws.ToTime(out.AccessEntry.ModifiedAt)
		}
	}
	for _, arn := range slices.Sorted(maps.Keys(p.Associate)) {
		scope := p.Associate[arn]
		out, err := cl.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{
			ClusterName: cluster, PrincipalArn: principal, PolicyArn: aws.String(arn),
			AccessScope: &types.AccessScope{Type: types.AccessScopeType(scope.Type), Namespaces: scope.Namespaces},
		})
		if err := check(err, "associating %s", arn); err != nil {
			return err
		}
		if err == nil && out.AssociatedAccessPolicy != nil {
			if after.Policies == nil {
				after.Policies = map[string]plan.ObservedPolicy{}
			}
			after.Policies[arn] = observedPolicy(*out.AssociatedAccessPolicy)
		}
	}
	for _, arn := range p.Disassociate {
		_, err := cl.DisassociateAccessPolicy(ctx, &eks.DisassociateAccessPolicyInput{
			ClusterName: cluster, PrincipalArn: principal, PolicyArn: aws.String(arn),
		})
		if classify(err) == errNotFound {
			err = nil
		}
		if err := check(err, "disassociating %s", arn); err != nil {
			return err
		}
		if err == nil {
			delete(after.Policies, arn)
		}
	}
	if len(p.SetTags) > 0 {
		_, err := cl.TagResource(ctx, &eks.TagResourceInput{ResourceArn: aws.String(entryARN), Tags: p.SetTags})
		if err := check(err, "tagging the entry"); err != nil {
			return err
		}
		if err == nil {
			if after.Tags == nil {
				after.Tags = map[string]string{}
			}
			maps.Copy(after.Tags, p.SetTags)
		}
	}
	if len(p.RemoveTags) > 0 {
		_, err := cl.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: aws.String(entryARN), TagKeys: p.RemoveTags})
		if err := check(err, "untagging the entry"); err != nil {
			return err
		}
		if err == nil {
			for _, k := range p.RemoveTags {
				delete(after.Tags, k)
			}
		}
	}
	return cmp.Or(refusedOutside, refusedSpec)
}

// listPolicies reads the access policies associated with an entry, every page.
func listPolicies(ctx context.Context, cl EKSAPI, cluster, principal string) (map[string]plan.ObservedPolicy, error) {
	policies := map[string]plan.ObservedPolicy{}
	pages := eks.NewListAssociatedAccessPoliciesPaginator(cl, &eks.ListAssociatedAccessPoliciesInput{
		ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal), MaxResults: aws.Int32(100),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range page.AssociatedAccessPolicies {
			policies[aws.ToString(a.PolicyArn)] = observedPolicy(a)
		}
	}
	return policies, nil
}

func observedPolicy(a types.AssociatedAccessPolicy) plan.ObservedPolicy {
	op := plan.ObservedPolicy{AssociatedAt: aws.ToTime(a.AssociatedAt), ModifiedAt: aws.ToTime(a.ModifiedAt)}
	if a.AccessScope != nil {
		op.Scope = plan.Scope{Type: string(a.AccessScope.Type), Namespaces: plan.Sorted(a.AccessScope.Namespaces)}
	}
	return op
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
