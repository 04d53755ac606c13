package plan

import (
	"slices"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
)

// Relinquish is what to write to take away, from an entry the object adopted,
// what the object added to what the entry held then (adopted), and its
// ownership tags: the groups it added, the username back to the one the entry
// had, policies it associated, scopes it widened (a scope narrowed to what both
// cover), and the tags it wrote (written: the spec tag keys it managed). What
// the object took away stays away, and so does a username the platform's rule
// reverted to EKS's own: giving either back would grant. principal is the
// entry's.
func Relinquish(adopted v1.AdoptedEntry, o Observed, principal string, written []string) Plan {
	var p Plan
	if v1.AccessEntryType(o.Type) == v1.TypeStandard {
		groups := slices.DeleteFunc(Sorted(o.Groups), func(g string) bool { return !slices.Contains(adopted.KubernetesGroups, g) })
		// A username the entry shows as EKS derives it (the platform's rule
		// revoked the adopted one) stays so: sending the adopted one back would
		// grant what was taken away.
		derived := awsarn.DefaultUsername(principal)
		giveBack := o.Username != adopted.Username && o.Username != derived
		if giveBack || len(groups) != len(o.Groups) {
			p.Update = &EntryUpdate{Groups: append([]string{}, groups...)}
			if giveBack && adopted.Username != derived {
				p.Update.Username = &adopted.Username
			}
		}
	}
	for _, k := range append([]string{ownership.TagInstance, ownership.TagNamespace, ownership.TagName}, written...) {
		if _, present := o.Tags[k]; present && !slices.Contains(adopted.TagKeys, k) && !slices.Contains(p.RemoveTags, k) {
			p.RemoveTags = append(p.RemoveTags, k)
		}
	}
	slices.Sort(p.RemoveTags)
	for arn, cur := range o.Policies {
		i := slices.IndexFunc(adopted.AccessPolicies, func(a v1.AssociatedAccessPolicy) bool { return a.PolicyARN == arn })
		if i < 0 {
			p.Disassociate = append(p.Disassociate, arn)
			continue
		}
		switch both, ok := within(cur.Scope, scopeOf(adopted.AccessPolicies[i].AccessScope)); {
		case !ok:
			p.Disassociate = append(p.Disassociate, arn)
		case !both.equal(cur.Scope):
			if p.Associate == nil {
				p.Associate = map[string]Scope{}
			}
			p.Associate[arn] = both
		}
	}
	slices.Sort(p.Disassociate)
	return p
}

// within is the part of scope cur that scope was also covers; false when none.
func within(cur, was Scope) (Scope, bool) {
	switch {
	case was.Type == "cluster":
		return cur, true
	case cur.Type == "cluster":
		return was, true
	}
	both := slices.DeleteFunc(slices.Clone(cur.Namespaces), func(n string) bool { return !slices.Contains(was.Namespaces, n) })
	return Scope{Type: cur.Type, Namespaces: both}, len(both) > 0
}

// scopeOf is an observed scope in the form that compares.
func scopeOf(s v1.ObservedAccessScope) Scope {
	return Scope{Type: string(s.Type), Namespaces: Sorted(s.Namespaces)}
}
