// Package plan holds the operator's pure decisions: what to write to make an EKS
// access entry match its AccessEntry (Compute), and what to do about an entry
// that exists, is absent, or is to be removed (decide.go). Nothing here calls EKS
// or the API server: the controllers observe, ask this package, and apply. Being
// pure, every decision is table-tested without a server.
package plan

import (
	"slices"
	"time"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
)

// Scope is an access scope in a form that compares: namespaces sorted.
type Scope struct {
	Type       string
	Namespaces []string
}

func (s Scope) equal(o Scope) bool {
	return s.Type == o.Type && slices.Equal(s.Namespaces, o.Namespaces)
}

// Desired is an entry as its AccessEntry wants it in EKS.
type Desired struct {
	Identity v1.EntryIdentity
	// Username is "" when EKS should derive it.
	Username string
	// Groups are sorted.
	Groups []string
	// Tags include the ownership tags.
	Tags map[string]string
	// SpecTagKeys are the keys the spec itself declares, sorted.
	SpecTagKeys []string
	Policies    map[string]Scope
}

// Observed is an entry as EKS reports it.
type Observed struct {
	ARN        string
	Type       string
	Username   string
	Groups     []string
	Tags       map[string]string
	CreatedAt  time.Time
	ModifiedAt time.Time
	// Policies is nil when they were not listed: for types that take none
	// (EC2_LINUX, EC2_WINDOWS), and for the other node types unless the spec
	// declares some.
	Policies map[string]ObservedPolicy
}

// ObservedPolicy is an associated access policy as EKS reports it.
type ObservedPolicy struct {
	Scope        Scope
	AssociatedAt time.Time
	ModifiedAt   time.Time
}

// Plan is what has to be written to EKS to make an existing entry match its spec.
type Plan struct {
	// Update is set when the username or the groups differ. EKS resets a field an
	// update leaves out, so both are always sent.
	Update *EntryUpdate
	// SetTags and RemoveTags change tags; tags nobody declared are left alone.
	SetTags    map[string]string
	RemoveTags []string
	// Associate holds policies to associate, or whose scope to replace in place
	// (associating again replaces the scope, so there is no gap in access).
	Associate map[string]Scope
	// Disassociate holds policies the spec no longer declares.
	Disassociate []string
}

// EntryUpdate is an UpdateAccessEntry call. A nil Username lets EKS derive it.
// Groups is never nil: an empty list is sent as one, so that removing the last
// group says so instead of relying on EKS resetting a field left out.
type EntryUpdate struct {
	Username *string
	Groups   []string
}

// Empty reports whether nothing has to be written.
func (p Plan) Empty() bool {
	return p.Update == nil && len(p.SetTags) == 0 && len(p.RemoveTags) == 0 &&
		len(p.Associate) == 0 && len(p.Disassociate) == 0
}

// Writes counts the EKS calls the plan makes.
func (p Plan) Writes() int {
	n := len(p.Associate) + len(p.Disassociate)
	if p.Update != nil {
		n++
	}
	if len(p.SetTags) > 0 {
		n++
	}
	if len(p.RemoveTags) > 0 {
		n++
	}
	return n
}

// DesiredFor turns an AccessEntry into what EKS should hold for it, for the given
// identity (the spec's, with the region resolved) and operator instance.
func DesiredFor(ae *v1.AccessEntry, id v1.EntryIdentity, instance string) Desired {
	d := Desired{
		Identity: id,
		Username: ae.Spec.Username,
		Tags:     ownership.Owner{Instance: instance, Namespace: ae.Namespace, Name: ae.Name}.Tags(),
		Policies: map[string]Scope{},
	}
	for _, g := range ae.Spec.KubernetesGroups {
		d.Groups = append(d.Groups, string(g))
	}
	slices.Sort(d.Groups)
	for k, v := range ae.Spec.Tags {
		d.Tags[k] = string(v)
		d.SpecTagKeys = append(d.SpecTagKeys, k)
	}
	slices.Sort(d.SpecTagKeys)
	for _, p := range ae.Spec.AccessPolicies {
		s := Scope{Type: string(p.AccessScope.Type)}
		for _, n := range p.AccessScope.Namespaces {
			s.Namespaces = append(s.Namespaces, string(n))
		}
		slices.Sort(s.Namespaces)
		d.Policies[p.PolicyARN] = s
	}
	return d
}

// Compute is the difference between what the spec wants and what EKS holds, as
// the writes that close it. Username and groups are compared for STANDARD entries
// only (EKS names node types itself and takes no update for them); policies for
// every entry whose policies were listed. managedTags are the spec tag keys last written, so that
// a tag leaving the spec is removed while tags set by others stay. Values EKS fills
// in (a derived username, the groups of node types) are not differences.
func Compute(d Desired, o Observed, managedTags []string) Plan {
	var p Plan
	if d.Identity.Type == v1.TypeStandard {
		wantUser := d.Username
		if wantUser == "" {
			wantUser = awsarn.DefaultUsername(d.Identity.PrincipalARN)
		}
		if o.Username != wantUser || !slices.Equal(Sorted(o.Groups), d.Groups) {
			p.Update = &EntryUpdate{Groups: append([]string{}, d.Groups...)}
			if d.Username != "" {
				p.Update.Username = &d.Username
			}
		}
	}

	for k, v := range d.Tags {
		if cur, ok := o.Tags[k]; !ok || cur != v {
			if p.SetTags == nil {
				p.SetTags = map[string]string{}
			}
			p.SetTags[k] = v
		}
	}
	for _, k := range managedTags {
		if _, still := d.Tags[k]; still {
			continue
		}
		if _, present := o.Tags[k]; present {
			p.RemoveTags = append(p.RemoveTags, k)
		}
	}
	slices.Sort(p.RemoveTags)

	if !d.Identity.Type.TakesPolicies() || (o.Policies == nil && len(d.Policies) == 0) {
		return p // a type that takes none, or not listed and none wanted
	}
	for arn, want := range d.Policies {
		if cur, ok := o.Policies[arn]; !ok || !cur.Scope.equal(want) {
			if p.Associate == nil {
				p.Associate = map[string]Scope{}
			}
			p.Associate[arn] = want
		}
	}
	for arn := range o.Policies {
		if _, ok := d.Policies[arn]; !ok {
			p.Disassociate = append(p.Disassociate, arn)
		}
	}
	slices.Sort(p.Disassociate)
	return p
}

// Sorted is a sorted copy of s.
func Sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
