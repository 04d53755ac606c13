package onboard

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
)

// EKSReader is the part of the EKS API Import calls, in the SDK's own signatures:
// reads only, so an import cannot change anything.
type EKSReader interface {
	ListAccessEntries(context.Context, *eks.ListAccessEntriesInput, ...func(*eks.Options)) (*eks.ListAccessEntriesOutput, error)
	DescribeAccessEntry(context.Context, *eks.DescribeAccessEntryInput, ...func(*eks.Options)) (*eks.DescribeAccessEntryOutput, error)
	ListAssociatedAccessPolicies(context.Context, *eks.ListAssociatedAccessPoliciesInput, ...func(*eks.Options)) (*eks.ListAssociatedAccessPoliciesOutput, error)
}

var _ EKSReader = (*eks.Client)(nil)

// ImportOptions say which cluster to read and how to write its manifests.
type ImportOptions struct {
	Cluster string
	// Region is the cluster's region; it goes into spec.region.
	Region    string
	Namespace string
	// IncludeNodeTypes imports node entries (EC2_LINUX and the other node types) too.
	IncludeNodeTypes bool
	// PageSize is the maxResults of the list calls (1-100); 0 means 100.
	PageSize int32
	// KeepARNs writes the role ARN of IAM Identity Center roles' entries, not
	// their permission set (spec.identityCenter).
	KeepARNs bool
}

// Import reads every access entry of a cluster and returns AccessEntry objects
// that adopt them unchanged: each spec is what EKS holds, without the values EKS
// fills in itself, so that the operator's first reconcile writes only its
// ownership tags. Entries an operator owns already are reported and left out, and
// so are node entries unless IncludeNodeTypes is set.
func Import(ctx context.Context, cl EKSReader, opts ImportOptions) (Result, error) {
	if err := checkTarget(opts.Cluster, opts.Region, opts.Namespace); err != nil {
		return Result{}, err
	}
	pageSize := opts.PageSize
	if pageSize == 0 {
		pageSize = 100
	}
	var principals []string
	pages := eks.NewListAccessEntriesPaginator(cl, &eks.ListAccessEntriesInput{ClusterName: aws.String(opts.Cluster), MaxResults: aws.Int32(pageSize)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return Result{}, explain(err, opts)
		}
		principals = append(principals, page.AccessEntries...)
	}
	slices.Sort(principals)

	var (
		objs    []*Object
		items   []Item
		home    string
		awsTags bool
	)
	for _, arn := range principals {
		out, err := cl.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(opts.Cluster), PrincipalArn: aws.String(arn)})
		if awsapi.IsNotFound(err) {
			it := Item{Source: arn}
			it.add(NotImported, "deleted while the import ran")
			items = append(items, it)
			continue
		}
		if err != nil {
			return Result{}, explain(err, opts)
		}
		e := out.AccessEntry
		if home == "" {
			home, _ = awsarn.AccountOf(aws.ToString(e.AccessEntryArn))
		}
		for k := range e.Tags {
			awsTags = awsTags || strings.HasPrefix(strings.ToLower(k), "aws:")
		}
		obj, it, err := importEntry(ctx, cl, e, opts, pageSize)
		if err != nil {
			return Result{}, fmt.Errorf("listing the access policies of %s: %w", arn, explain(err, opts))
		}
		if obj != nil {
			objs = append(objs, obj)
		} else {
			items = append(items, it)
		}
	}

	assignNames(objs, opts.Cluster, home)
	var sets []string
	for _, o := range objs {
		if !opts.KeepARNs {
			if set := permissionSetForm(&o.Spec, home); set != "" {
				sets = append(sets, set)
			}
		}
	}
	r := Report{
		Title: fmt.Sprintf("kubectl eksaccess import: cluster %s (%s): %d of %d access entries imported, %d left out",
			opts.Cluster, opts.Region, len(objs), len(principals), len(principals)-len(objs)),
		Items: items,
	}
	if len(objs) > 0 {
		r.Notes = append(r.Notes,
			"Every object carries eksaccess.io/adopt: \"true\" and holds what EKS holds. Applied, each costs one write: the operator tags the entry "+
				"with its three eksaccess.io/ ownership tags (one TagResource call) and changes nothing else.",
			"deletionPolicy is left at its default, Delete: deleting an object deletes its access entry. Set deletionPolicy: Retain on the "+
				"entries that must outlive their object (node roles, the break-glass administrator).")
	}
	if len(sets) > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d entries are for IAM Identity Center roles (permission sets %s): their objects name the permission set (spec.identityCenter), "+
			"and the operator finds the role in IAM (iam:ListRoles), also after the set is provisioned again with a new role; --keep-arns writes the role ARNs instead.",
			len(sets), strings.Join(slices.Compact(slices.Sorted(slices.Values(sets))), ", ")))
	}
	if awsTags {
		r.Notes = append(r.Notes, "Tags starting with aws: are left out of spec.tags (the schema reserves them); they stay on the entries untouched.")
	}
	return Result{Objects: sortObjects(objs), Report: r}, nil
}

// importEntry builds the object of one entry, or says in the item why there is none.
func importEntry(ctx context.Context, cl EKSReader, e *types.AccessEntry, opts ImportOptions, pageSize int32) (*Object, Item, error) {
	arn := aws.ToString(e.PrincipalArn)
	typ := v1.AccessEntryType(aws.ToString(e.Type))
	it := Item{Source: arn, Subject: "(" + string(typ) + ")"}

	if owner, owned := ownership.Of(e.Tags); owned {
		it.add(NotImported, "already managed by AccessEntry %s; nothing to import", owner)
		return nil, it, nil
	}
	switch typ {
	case v1.TypeStandard:
	case v1.TypeEC2, v1.TypeEC2Linux, v1.TypeEC2Windows, v1.TypeFargateLinux, v1.TypeHybridLinux, v1.TypeHyperpodLinux:
		if !opts.IncludeNodeTypes {
			it.add(NotImported, "a node entry (EKS sets its username and groups, and made it itself for managed node groups and Fargate profiles); "+
				"run again with --include-node-types to import it")
			return nil, it, nil
		}
	default:
		it.add(NotImported, "type %s is not one the AccessEntry API knows", typ)
		return nil, it, nil
	}
	if n := len(e.Tags) + v1.ReservedTagCount; n > v1.MaxEntryTags {
		it.add(NotImported, "the entry has %d tags; adopting it adds %d ownership tags and EKS allows %d: remove %d tags first", len(e.Tags), v1.ReservedTagCount, v1.MaxEntryTags, n-v1.MaxEntryTags)
		return nil, it, nil
	}

	spec := v1.AccessEntrySpec{ClusterName: opts.Cluster, Region: opts.Region, PrincipalARN: arn}
	for _, k := range slices.Sorted(maps.Keys(e.Tags)) {
		// Tags AWS set itself (aws: keys or values) are not the entry's owner's to declare.
		if strings.HasPrefix(strings.ToLower(k), "aws:") || strings.HasPrefix(strings.ToLower(e.Tags[k]), "aws:") || ownership.IsOwnershipKey(k) {
			continue
		}
		if spec.Tags == nil {
			spec.Tags = map[string]v1.TagValue{}
		}
		spec.Tags[k] = v1.TagValue(e.Tags[k])
	}
	if typ != v1.TypeStandard {
		// EKS's username and groups of node entries are not part of the spec.
		spec.Type = typ
	} else {
		if u := aws.ToString(e.Username); u != awsarn.DefaultUsername(arn) {
			spec.Username = u
		}
		groups := slices.Clone(e.KubernetesGroups)
		slices.Sort(groups)
		for _, g := range slices.Compact(groups) {
			spec.KubernetesGroups = append(spec.KubernetesGroups, v1.KubernetesGroup(g))
		}
	}
	if typ.ListsPolicies() {
		// STANDARD entries, and EC2 (EKS Auto Mode) node roles with AmazonEKSAutoNodePolicy.
		policies, err := associatedPolicies(ctx, cl, opts.Cluster, arn, pageSize)
		if err != nil {
			return nil, it, err
		}
		spec.AccessPolicies = policies
	}
	if errs := validateSpec(spec); len(errs) > 0 {
		it.add(NotImported, "its AccessEntry would not pass the schema: %s", strings.Join(errs, "; "))
		return nil, it, nil
	}
	return &Object{
		Namespace:   opts.Namespace,
		Annotations: map[string]string{v1.AdoptAnnotation: "true"},
		Spec:        spec,
	}, it, nil
}

// associatedPolicies lists the access policies of an entry, sorted, with
// their scopes' namespaces sorted.
func associatedPolicies(ctx context.Context, cl EKSReader, cluster, principal string, pageSize int32) ([]v1.AccessPolicy, error) {
	var out []v1.AccessPolicy
	pages := eks.NewListAssociatedAccessPoliciesPaginator(cl, &eks.ListAssociatedAccessPoliciesInput{
		ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal), MaxResults: aws.Int32(pageSize),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range page.AssociatedAccessPolicies {
			ap := v1.AccessPolicy{PolicyARN: aws.ToString(p.PolicyArn)}
			if p.AccessScope != nil {
				ap.AccessScope.Type = v1.AccessScopeType(p.AccessScope.Type)
				ns := slices.Clone(p.AccessScope.Namespaces)
				slices.Sort(ns)
				for _, n := range ns {
					ap.AccessScope.Namespaces = append(ap.AccessScope.Namespaces, v1.ScopeNamespace(n))
				}
			}
			out = append(out, ap)
		}
	}
	slices.SortFunc(out, func(a, b v1.AccessPolicy) int { return strings.Compare(a.PolicyARN, b.PolicyARN) })
	return out, nil
}

// explain turns the EKS errors a user can act on into messages that say what to do.
func explain(err error, opts ImportOptions) error {
	msg := awsapi.Message(err)
	switch awsapi.Classify(err) {
	case awsapi.ClusterNotFound:
		return fmt.Errorf("EKS has no cluster %s in region %s for the account of your AWS credentials (check --cluster and --region): %s", opts.Cluster, opts.Region, msg)
	case awsapi.ModeNotSupported:
		return fmt.Errorf("cluster %s authenticates through the aws-auth ConfigMap only (CONFIG_MAP), so it has no access entries to import; "+
			"convert aws-auth with 'kubectl eksaccess migrate-aws-auth' instead: %s", opts.Cluster, msg)
	case awsapi.AccessDenied:
		return fmt.Errorf("your AWS identity may not read access entries (eks:ListAccessEntries, eks:DescribeAccessEntry and eks:ListAssociatedAccessPolicies are needed): %s", msg)
	}
	return err
}
