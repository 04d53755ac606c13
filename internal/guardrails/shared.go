package guardrails

import (
	"fmt"
	"slices"
	"strings"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// maxShared bounds how many shared principals SharedPrincipals lists.
const maxShared = 20

// SharedPrincipals lists where the rules let two admitted namespaces name the
// same principal: a whole account, or ARN patterns (expanded for each
// namespace) that some ARN matches for both. There the first namespace to apply
// holds the principal and the other is in Conflict: claims are decided by who
// came first, which the platform team should see and usually close, by naming
// each namespace's roles with {{namespace}}. At most maxShared, in a stable
// order.
func (c Config) SharedPrincipals() []string {
	var grants []principalGrant
	c.eachAdmission(func(ns string, rule *v1.GrantRule) {
		for _, a := range rule.Principals.Accounts {
			grants = append(grants, principalGrant{ns: ns, rule: rule.Name, account: a})
		}
		for _, p := range rule.Principals.ARNs {
			grants = append(grants, principalGrant{ns: ns, rule: rule.Name, pattern: strings.ReplaceAll(string(p), namespaceToken, ns)})
		}
	})
	var out []string
	for i, a := range grants {
		for _, b := range grants[i+1:] {
			if a.ns == b.ns || !a.meets(b) {
				continue
			}
			s := fmt.Sprintf("namespaces %s (rule %s: %s) and %s (rule %s: %s) may name the same principals", a.ns, a.rule, a, b.ns, b.rule, b)
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
			if len(out) == maxShared {
				return out
			}
		}
	}
	return out
}

// principalGrant is what a rule lets one namespace name: every principal of an
// account, or those an ARN pattern (expanded) matches.
type principalGrant struct{ ns, rule, account, pattern string }

func (g principalGrant) String() string {
	if g.account != "" {
		return "every role and user of account " + g.account
	}
	return g.pattern
}

// meets reports whether some principal is in both grants.
func (g principalGrant) meets(o principalGrant) bool {
	switch {
	case g.account != "" && o.account != "":
		return g.account == o.account
	case g.account != "":
		return Glob(accountField(o.pattern), g.account)
	case o.account != "":
		return Glob(accountField(g.pattern), o.account)
	}
	return prefixesMeet(g.pattern, o.pattern) && Intersect(g.pattern, o.pattern)
}

// accountField is the account of an ARN pattern (its fifth field), which may
// itself be a pattern; "*" when the pattern has no such field.
func accountField(pattern string) string {
	if f := strings.SplitN(pattern, ":", 6); len(f) == 6 {
		return f[4]
	}
	return "*"
}

// prefixesMeet: the literal heads of two patterns (up to their first '*')
// agree as far as the shorter goes, a cheap test that rules out most pairs
// before Intersect.
func prefixesMeet(a, b string) bool {
	ha, _, _ := strings.Cut(a, "*")
	hb, _, _ := strings.Cut(b, "*")
	n := min(len(ha), len(hb))
	return ha[:n] == hb[:n]
}
