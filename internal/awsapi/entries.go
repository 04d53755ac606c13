package awsapi

import (
	"cmp"
	"context"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// EKS is the EKS API of one target, in the plan's terms. Errors are the SDK's,
// for Classify.
type EKS struct {
	api EKSAPI
}

// NewEKS wraps an SDK client (or anything with its signatures).
func NewEKS(api EKSAPI) EKS { return EKS{api: api} }

// NewEntry is an access entry to create.
type NewEntry struct {
	ID       v1.EntryIdentity
	Username string
	Groups   []string
	Tags     map[string]string
}

// Create creates an entry and returns it as EKS answered (with no policies: a
// new entry has none). Username and groups are sent for a STANDARD entry only.
func (e EKS) Create(ctx context.Context, n NewEntry) (*plan.Observed, error) {
	in := &eks.CreateAccessEntryInput{
		ClusterName:  aws.String(n.ID.ClusterName),
		PrincipalArn: aws.String(n.ID.PrincipalARN),
		Type:         aws.String(string(n.ID.Type)),
		Tags:         n.Tags,
	}
	if n.ID.Type == v1.TypeStandard {
		in.KubernetesGroups = n.Groups
		if n.Username != "" {
			in.Username = aws.String(n.Username)
		}
	}
	out, err := e.api.CreateAccessEntry(ctx, in)
	if err != nil {
		return nil, err
	}
	return observedEntry(out.AccessEntry), nil
}

// Describe reads an entry, without its policies.
func (e EKS) Describe(ctx context.Context, cluster, principal string) (*plan.Observed, error) {
	out, err := e.api.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal)})
	if err != nil {
		return nil, err
	}
	return observedEntry(out.AccessEntry), nil
}

// Observe reads the entry of id and, for the types that carry them (and the
// others when specPolicies: the spec declares some), its policies: EKS answers
// ListAssociatedAccessPolicies on an EC2_LINUX or EC2_WINDOWS entry with an
// error. nil when EKS has no such entry.
func (e EKS) Observe(ctx context.Context, id v1.EntryIdentity, specPolicies bool) (*plan.Observed, error) {
	obs, err := e.Describe(ctx, id.ClusterName, id.PrincipalARN)
	if err != nil {
		if IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	typ := v1.AccessEntryType(obs.Type)
	if !typ.ListsPolicies() && (!typ.TakesPolicies() || !specPolicies) {
		return obs, nil
	}
	if obs.Policies, err = e.Policies(ctx, id.ClusterName, id.PrincipalARN); err != nil {
		if IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return obs, nil
}

// Policies reads the access policies associated with an entry, every page.
func (e EKS) Policies(ctx context.Context, cluster, principal string) (map[string]plan.ObservedPolicy, error) {
	policies := map[string]plan.ObservedPolicy{}
	pages := eks.NewListAssociatedAccessPoliciesPaginator(e.api, &eks.ListAssociatedAccessPoliciesInput{
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

// Delete deletes an entry; an entry already gone is an error Classify calls NotFound.
func (e EKS) Delete(ctx context.Context, cluster, principal string) error {
	_, err := e.api.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal)})
	return err
}

// Tag sets tags on an entry.
func (e EKS) Tag(ctx context.Context, entryARN string, tags map[string]string) error {
	_, err := e.api.TagResource(ctx, &eks.TagResourceInput{ResourceArn: aws.String(entryARN), Tags: tags})
	return err
}

// Untag removes tags from an entry; keys it does not carry are no error.
func (e EKS) Untag(ctx context.Context, entryARN string, keys []string) error {
	_, err := e.api.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: aws.String(entryARN), TagKeys: keys})
	return err
}

// ListPage lists one page of a cluster's entries (100 principals), from the
// place token names (nil: the first page); next is nil after the last page.
func (e EKS) ListPage(ctx context.Context, cluster string, token *string) (principals []string, next *string, err error) {
	out, err := e.api.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String(cluster), MaxResults: aws.Int32(100), NextToken: token})
	if err != nil {
		return nil, nil, err
	}
	return out.AccessEntries, out.NextToken, nil
}

// Entry names an existing entry: its identity and ARN.
type Entry struct {
	ID  v1.EntryIdentity
	ARN string
}

// Apply makes a plan's writes to an entry: username and groups together,
// policies, then tags. A write EKS refuses does not stop the others, so that one
// refused change (tags that no longer fit, say) never keeps the rest of the
// entry from being corrected; the refusal is returned once the others are made,
// one caused from outside the spec ahead of one the spec causes. Any other error
// stops at once.
//
// after is the entry before the writes; each write EKS accepts is folded into it,
// from EKS's answer where it gives one.
func (e EKS) Apply(ctx context.Context, entry Entry, p plan.Plan, after *plan.Observed) error {
	w := &writes{EKS: e, entry: entry, after: after}
	if p.Update != nil {
		if err := w.update(ctx, p.Update); err != nil {
			return err
		}
	}
	for _, arn := range slices.Sorted(maps.Keys(p.Associate)) {
		if err := w.associate(ctx, arn, p.Associate[arn]); err != nil {
			return err
		}
	}
	for _, arn := range p.Disassociate {
		if err := w.disassociate(ctx, arn); err != nil {
			return err
		}
	}
	if len(p.SetTags) > 0 {
		if err := w.setTags(ctx, p.SetTags); err != nil {
			return err
		}
	}
	if len(p.RemoveTags) > 0 {
		if err := w.removeTags(ctx, p.RemoveTags); err != nil {
			return err
		}
	}
	return cmp.Or(w.refusedOutside, w.refusedSpec)
}

// writes is one Apply: the entry, what it looks like after the writes so far,
// and the first refusal of each kind.
type writes struct {
	EKS
	entry                       Entry
	after                       *plan.Observed
	refusedSpec, refusedOutside error
}

// check keeps a refusal for the end of Apply and returns nil; any other error
// is returned (wrapped with what was being done) to stop Apply.
func (w *writes) check(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	err = wrapf(err, format, args...)
	switch Classify(err) {
	case InvalidSpec:
		w.refusedSpec = cmp.Or(w.refusedSpec, err)
	case Refused:
		w.refusedOutside = cmp.Or(w.refusedOutside, err)
	default:
		return err
	}
	return nil
}

func (w *writes) update(ctx context.Context, u *plan.EntryUpdate) error {
	out, err := w.api.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{
		ClusterName: aws.String(w.entry.ID.ClusterName), PrincipalArn: aws.String(w.entry.ID.PrincipalARN), Username: u.Username, KubernetesGroups: u.Groups,
	})
	if err != nil || out.AccessEntry == nil {
		return w.check(err, "updating username and groups")
	}
	w.after.Username, w.after.Groups = aws.ToString(out.AccessEntry.Username), out.AccessEntry.KubernetesGroups
	w.after.ModifiedAt = aws.ToTime(out.AccessEntry.ModifiedAt)
	return nil
}

func (w *writes) associate(ctx context.Context, arn string, scope plan.Scope) error {
	out, err := w.api.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{
		ClusterName: aws.String(w.entry.ID.ClusterName), PrincipalArn: aws.String(w.entry.ID.PrincipalARN), PolicyArn: aws.String(arn),
		AccessScope: &types.AccessScope{Type: types.AccessScopeType(scope.Type), Namespaces: scope.Namespaces},
	})
	if err != nil || out.AssociatedAccessPolicy == nil {
		return w.check(err, "associating %s", arn)
	}
	if w.after.Policies == nil {
		w.after.Policies = map[string]plan.ObservedPolicy{}
	}
	w.after.Policies[arn] = observedPolicy(*out.AssociatedAccessPolicy)
	return nil
}

func (w *writes) disassociate(ctx context.Context, arn string) error {
	_, err := w.api.DisassociateAccessPolicy(ctx, &eks.DisassociateAccessPolicyInput{
		ClusterName: aws.String(w.entry.ID.ClusterName), PrincipalArn: aws.String(w.entry.ID.PrincipalARN), PolicyArn: aws.String(arn),
	})
	if err != nil && !IsNotFound(err) {
		return w.check(err, "disassociating %s", arn)
	}
	delete(w.after.Policies, arn)
	return nil
}

func (w *writes) setTags(ctx context.Context, set map[string]string) error {
	if err := w.Tag(ctx, w.entry.ARN, set); err != nil {
		return w.check(err, "tagging the entry")
	}
	if w.after.Tags == nil {
		w.after.Tags = map[string]string{}
	}
	maps.Copy(w.after.Tags, set)
	return nil
}

func (w *writes) removeTags(ctx context.Context, keys []string) error {
	if _, err := w.api.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: aws.String(w.entry.ARN), TagKeys: keys}); err != nil {
		return w.check(err, "untagging the entry")
	}
	for _, k := range keys {
		delete(w.after.Tags, k)
	}
	return nil
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
