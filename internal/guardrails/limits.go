package guardrails

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// defaultMaxEntriesPerNamespace is a rule's maxEntriesPerNamespace when it
// says none (the API server defaults it too).
const defaultMaxEntriesPerNamespace = 25

// Places is where an AccessEntry stands among those of its cluster, by age:
// InNamespace among its namespace's (1 for the oldest), and AmongTenants among
// the tenants' AccessEntries that count against maxTenantEntries (0 when it
// does not count, being past its namespace's own limit).
type Places struct {
	InNamespace, AmongTenants int
}

// Standing is one AccessEntry, as the limits order them.
type Standing struct {
	Namespace, Name string
	Created         time.Time
	// Holds: the object holds its entry on the cluster now. Holders come before
	// the rest, so that an old object moved onto the cluster (or a limit raised
	// for another namespace) never takes the place of an entry in use.
	Holds bool
}

// PlacesOf says where the AccessEntry (namespace, name) stands among the
// tenants' AccessEntries of a cluster: each namespace counts its oldest ones up
// to its limit (limitOf), and the tenants' together up to maxTenantEntries, so
// that one namespace's surplus never takes another's room. Objects that hold
// their entry come first, then the oldest; ties go by namespace and name.
func PlacesOf(all []Standing, namespace, name string, limitOf func(ns string) int) Places {
	slices.SortFunc(all, func(a, b Standing) int {
		if a.Holds != b.Holds {
			if a.Holds {
				return -1
			}
			return 1
		}
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	var p Places
	inNS, counted := map[string]int{}, 0
	for _, s := range all {
		inNS[s.Namespace]++
		within := inNS[s.Namespace] <= limitOf(s.Namespace)
		if within {
			counted++
		}
		if s.Namespace == namespace && s.Name == name {
			p.InNamespace = inNS[s.Namespace]
			if within {
				p.AmongTenants = counted
			}
			return p
		}
	}
	return p
}

// LimitOf is how many AccessEntries a namespace may hold on the cluster: the
// largest maxEntriesPerNamespace of the rules admitting it; 0 when none does.
func (c Config) LimitOf(ns string, nsLabels map[string]string) int {
	n := 0
	for i := range c.Rules {
		if admits(&c.Rules[i], ns, nsLabels) {
			n = max(n, maxEntries(&c.Rules[i]))
		}
	}
	return n
}

func maxEntries(rule *v1.GrantRule) int {
	if rule.MaxEntriesPerNamespace > 0 {
		return int(rule.MaxEntriesPerNamespace)
	}
	return defaultMaxEntriesPerNamespace
}

// judgeLimits refuses an AccessEntry past its namespace's limit under the rule,
// or past the tenants' room in the cluster's quota: the entry itself, so that it
// holds nothing in EKS. The messages name no other namespace.
func judgeLimits(cfg Config, v *Verdict, req Request) {
	if req.Places.InNamespace == 0 {
		return
	}
	if limit := maxEntries(v.rule); req.Places.InNamespace > limit {
		v.EntryAllowed = false
		v.Violations = append(v.Violations, fmt.Sprintf(
			"this AccessEntry is number %d of namespace %s's on the cluster, and rule %s allows %d (maxEntriesPerNamespace): delete AccessEntries this namespace no longer needs, or ask the platform team to raise maxEntriesPerNamespace on rule %s",
			req.Places.InNamespace, req.Namespace, v.Rule, limit, v.Rule))
		return
	}
	if cfg.MaxTenantEntries > 0 && req.Places.AmongTenants > cfg.MaxTenantEntries {
		v.EntryAllowed = false
		v.Violations = append(v.Violations, fmt.Sprintf(
			"the tenants' AccessEntries on the cluster have reached spec.guardrails.maxTenantEntries (%d), the room the platform keeps for tenants in the cluster's quota of access entries: this one waits for room; ask the platform team",
			cfg.MaxTenantEntries))
	}
}
