package guardrails

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// A {{namespace}} pattern keeps namespaces apart only while no admitted
// namespace's name continues another's: "{{namespace}}-*" for team-a also matches
// what "{{namespace}}-*" gives team-a-admin. So a value a {{namespace}} pattern
// allows a namespace is refused when another namespace the config admits claims
// it at least as specifically (siblings). Patterns without {{namespace}} are shared
// by design, and claim nothing.

// field is a kind of value rules grant through patterns.
type field int

const (
	fieldPrincipal field = iota
	fieldGroup
	fieldUsername
	fieldScope
	fieldPermissionSet
	numFields
)

var fieldNames = [numFields]string{"principals.arns", "kubernetesGroups", "usernames", "accessPolicies[].namespaces", "principals.permissionSets"}

// ownName is the specificity of a namespace's claim to its own name as a scope:
// it beats every pattern.
const ownName = math.MaxInt

// claim is a value pattern an admitted namespace holds through a rule's
// {{namespace}} pattern, expanded for it.
type claim struct {
	ns, rule, pattern string
	specificity       int
}

// siblings are the claims of every namespace a config admits.
type siblings struct {
	claims [numFields][]claim
}

// Overlap is a value a namespace asked for that another admitted namespace claims:
// for the platform team's logs only, since it names the other namespace.
type Overlap struct {
	// Field of the rule whose patterns overlap, such as kubernetesGroups.
	Field string
	// Value asked for: a principal, group, username or scope namespace.
	Value string
	// Pattern of the asking namespace's rule that allows the value, expanded.
	Pattern string
	// Claimant is the other namespace, ClaimantRule its rule and ClaimantPattern
	// the pattern by which it claims the value ("" for its own name as a scope).
	Claimant, ClaimantRule, ClaimantPattern string
}

func (o Overlap) String() string {
	return fmt.Sprintf("%s %q (by %q) is claimed by namespace %s through rule %s (%q)", o.Field, o.Value, o.Pattern, o.Claimant, o.ClaimantRule, o.ClaimantPattern)
}

// Prepare computes once what every namespace the config admits claims, for judging
// many requests against the same config.
func (c Config) Prepare() Config {
	c.siblings = buildSiblings(c)
	return c
}

// Admitted lists the namespaces some rule of the config admits: by name, and, of
// the cluster's namespaces (Config.Namespaces), by selector.
func (c Config) Admitted() []string {
	var out []string
	c.eachAdmission(func(ns string, _ *v1.GrantRule) {
		if !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	})
	slices.Sort(out)
	return out
}

// eachAdmission calls f for every namespace and rule admitting it, once per pair.
func (c Config) eachAdmission(f func(ns string, rule *v1.GrantRule)) {
	for i := range c.Rules {
		rule := &c.Rules[i]
		seen := map[string]bool{}
		for _, ns := range rule.Namespaces.Names {
			if !seen[ns] {
				seen[ns] = true
				f(ns, rule)
			}
		}
		if rule.Namespaces.Selector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(rule.Namespaces.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		for _, ns := range slices.Sorted(maps.Keys(c.Namespaces)) {
			if !seen[ns] && sel.Matches(labels.Set(c.Namespaces[ns])) {
				seen[ns] = true
				f(ns, rule)
			}
		}
	}
}

func buildSiblings(c Config) *siblings {
	s := &siblings{}
	own := map[string]bool{}
	c.eachAdmission(func(ns string, rule *v1.GrantRule) {
		if !own[ns] {
			own[ns] = true
			s.claims[fieldScope] = append(s.claims[fieldScope], claim{ns: ns, rule: rule.Name, pattern: ns, specificity: ownName})
		}
		for f, patterns := range fieldPatterns(rule) {
			for _, p := range patterns {
				if strings.Contains(p, namespaceToken) {
					e := strings.ReplaceAll(p, namespaceToken, ns)
					s.claims[f] = append(s.claims[f], claim{ns: ns, rule: rule.Name, pattern: e, specificity: specificity(e)})
				}
			}
		}
	})
	return s
}

// fieldPatterns are a rule's patterns of each field; a policy grant without
// namespaces stands for {{namespace}}.
func fieldPatterns(rule *v1.GrantRule) [numFields][]string {
	var out [numFields][]string
	out[fieldPrincipal] = patternStrings(rule.Principals.ARNs)
	out[fieldGroup] = patternStrings(rule.KubernetesGroups)
	out[fieldUsername] = patternStrings(rule.Usernames)
	out[fieldPermissionSet] = patternStrings(rule.Principals.PermissionSets)
	for _, g := range rule.AccessPolicies {
		out[fieldScope] = append(out[fieldScope], grantScopes(g)...)
	}
	return out
}

func grantScopes(g v1.PolicyGrant) []string {
	if len(g.Namespaces) == 0 {
		return []string{namespaceToken}
	}
	out := make([]string, 0, len(g.Namespaces))
	for _, n := range g.Namespaces {
		out = append(out, string(n))
	}
	return out
}

func patternStrings(ps []v1.Pattern) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, string(p))
	}
	return out
}

// specificity of an expanded pattern: how many characters it fixes.
func specificity(p string) int { return len(p) - strings.Count(p, "*") }

// reach is how a rule's patterns of one field allow a value to a namespace.
type reach struct {
	// shared: a pattern without {{namespace}} allows it, which no claim overrides.
	shared bool
	// pattern is the most specific {{namespace}} pattern allowing it, expanded;
	// "" when none does.
	pattern string
}

// reachOf says how patterns allow value v to namespace ns; covers says whether an
// expanded pattern allows v.
func reachOf(patterns []string, ns, v string, covers func(p, v string) bool) reach {
	var r reach
	for _, p := range patterns {
		e := strings.ReplaceAll(p, namespaceToken, ns)
		switch {
		case !covers(e, v):
		case !strings.Contains(p, namespaceToken):
			return reach{shared: true}
		case r.pattern == "" || specificity(e) > specificity(r.pattern):
			r.pattern = e
		}
	}
	return r
}

// claimed is the claim of another namespace than ns to value v (a scope value may
// be a wildcard) at least as specific as pattern, or nil.
func (s *siblings) claimed(f field, ns, v, pattern string) *claim {
	if pattern == "" {
		return nil
	}
	least := specificity(pattern)
	for i := range s.claims[f] {
		c := &s.claims[f][i]
		if c.ns == ns || c.specificity < least {
			continue
		}
		if (f == fieldScope && Intersect(v, c.pattern)) || (f != fieldScope && Glob(c.pattern, v)) {
			return c
		}
	}
	return nil
}

// siblingCheck holds one namespace's values, under one rule, to the claims of the
// other namespaces the config admits.
type siblingCheck struct {
	s    *siblings
	rule *v1.GrantRule
	ns   string
}

// value is the claim another namespace has to value v of field f, with the
// pattern of the rule that allows v here; nil when v is not (only) reached through
// {{namespace}} patterns or nobody else claims it.
func (k siblingCheck) value(f field, v string) (*claim, string) {
	r := reachOf(fieldPatterns(k.rule)[f], k.ns, v, Glob)
	if r.shared {
		return nil, ""
	}
	return k.s.claimed(f, k.ns, v, r.pattern), r.pattern
}

// scope is the claim another namespace has to a scope namespace (a name or a
// wildcard) of policy arn. The namespace's own name is always its own.
func (k siblingCheck) scope(arn, sv string) (*claim, string) {
	i := slices.IndexFunc(k.rule.AccessPolicies, func(g v1.PolicyGrant) bool { return g.PolicyARN == arn })
	if i < 0 || sv == k.ns {
		return nil, ""
	}
	r := reachOf(grantScopes(k.rule.AccessPolicies[i]), k.ns, sv, covers)
	if r.shared {
		return nil, ""
	}
	return k.s.claimed(fieldScope, k.ns, sv, r.pattern), r.pattern
}

// judgeSiblings adds to v what the request asks for that another admitted
// namespace claims: a refused principal refuses the entry itself. The claims are
// computed once per Judge (kept in cfg).
func judgeSiblings(cfg *Config, v *Verdict, req Request) {
	if cfg.siblings == nil {
		cfg.siblings = buildSiblings(*cfg)
	}
	v.siblings = cfg.siblings
	k := siblingCheck{s: v.siblings, rule: v.rule, ns: req.Namespace}
	refuse := func(f field, subject, value string, c *claim, pattern string) {
		v.Violations = append(v.Violations, claimedMessage(subject, pattern, v.Rule, req.Namespace))
		v.Overlaps = append(v.Overlaps, Overlap{Field: fieldNames[f], Value: value, Pattern: pattern, Claimant: c.ns, ClaimantRule: c.rule, ClaimantPattern: claimPattern(c)})
	}
	account, _ := awsarn.AccountOf(req.Principal)
	if c, p := k.value(fieldPrincipal, req.Principal); c != nil && !slices.Contains(v.rule.Principals.Accounts, account) {
		refuse(fieldPrincipal, "spec.principalARN "+req.Principal, req.Principal, c, p)
		v.EntryAllowed = false
	}
	if c, p := k.value(fieldPermissionSet, req.PermissionSet); req.PermissionSet != "" && c != nil {
		refuse(fieldPermissionSet, "spec.identityCenter.permissionSet "+req.PermissionSet, req.PermissionSet, c, p)
		v.EntryAllowed = false
	}
	if c, p := k.value(fieldUsername, req.Username); req.Username != "" && c != nil {
		refuse(fieldUsername, fmt.Sprintf("spec.username %q", req.Username), req.Username, c, p)
	}
	for _, g := range req.Groups {
		if c, p := k.value(fieldGroup, g); c != nil {
			refuse(fieldGroup, fmt.Sprintf("spec.kubernetesGroups %q", g), g, c, p)
		}
	}
	for _, arn := range slices.Sorted(maps.Keys(req.Policies)) {
		for _, sv := range req.Policies[arn].Namespaces {
			if c, p := k.scope(arn, sv); c != nil {
				refuse(fieldScope, fmt.Sprintf("spec.accessPolicies %s in namespaces %s", policyName(arn), sv), sv, c, p)
			}
		}
	}
}

func claimPattern(c *claim) string {
	if c.specificity == ownName {
		return ""
	}
	return c.pattern
}

// claimedMessage says, without naming the other namespace, why a value a
// {{namespace}} pattern allows is refused, and how to fix it.
func claimedMessage(subject, pattern, rule, ns string) string {
	return fmt.Sprintf("%s is not allowed: rule %s allows it here through %q, and another namespace this config admits claims it at least as specifically "+
		"(the rule's {{namespace}} patterns reach beyond namespace %s); use a value that only namespace %s's patterns reach, "+
		"or ask the platform team to end {{namespace}} in the rule's patterns with a character namespace names cannot hold, as in \"{{namespace}}:*\" or \"role/tenants/{{namespace}}/*\"",
		subject, rule, pattern, ns, ns)
}

// withoutClaimed drops from d the groups, username and policies another admitted
// namespace claims (see judgeSiblings); the username falls back to EKS's.
func (v Verdict) withoutClaimed(d plan.Desired) plan.Desired {
	if v.siblings == nil {
		return d
	}
	k := siblingCheck{s: v.siblings, rule: v.rule, ns: v.ns}
	if c, _ := k.value(fieldUsername, d.Username); d.Username != "" && c != nil {
		d.Username = ""
	}
	d.Groups = slices.DeleteFunc(slices.Clone(d.Groups), func(g string) bool { c, _ := k.value(fieldGroup, g); return c != nil })
	kept := map[string]plan.Scope{}
	for arn, s := range d.Policies {
		if !slices.ContainsFunc(s.Namespaces, func(sv string) bool { c, _ := k.scope(arn, sv); return c != nil }) {
			kept[arn] = s
		}
	}
	d.Policies = kept
	return d
}

// claimedIn lists what an existing entry holds that another admitted namespace
// claims, for JudgeAdoption.
func (v Verdict) claimedIn(e plan.Observed) []string {
	if v.siblings == nil {
		return nil
	}
	k := siblingCheck{s: v.siblings, rule: v.rule, ns: v.ns}
	var out []string
	const why = "which another namespace this config admits claims at least as specifically as rule %s allows it here"
	if c, _ := k.value(fieldUsername, e.Username); e.Username != "" && c != nil {
		out = append(out, fmt.Sprintf("the existing entry has username %q, "+why, e.Username, v.Rule))
	}
	for _, g := range e.Groups {
		if c, _ := k.value(fieldGroup, g); c != nil {
			out = append(out, fmt.Sprintf("the existing entry has group %q, "+why, g, v.Rule))
		}
	}
	for _, arn := range slices.Sorted(maps.Keys(e.Policies)) {
		for _, sv := range e.Policies[arn].Scope.Namespaces {
			if c, _ := k.scope(arn, sv); c != nil {
				out = append(out, fmt.Sprintf("the existing entry holds %s in namespace %s, "+why, policyName(arn), sv, v.Rule))
			}
		}
	}
	return out
}

// Intersect reports whether some string matches both glob patterns, where '*'
// matches any run of characters (as in Glob).
func Intersect(a, b string) bool {
	// reach[i][j]: some string takes a[:i] and b[:j] to the same point. A star
	// may match nothing, or swallow the other side's next character.
	reach := make([][]bool, len(a)+1)
	for i := range reach {
		reach[i] = make([]bool, len(b)+1)
	}
	reach[0][0] = true
	for i := 0; i <= len(a); i++ {
		for j := 0; j <= len(b); j++ {
			if !reach[i][j] {
				continue
			}
			starA, starB := i < len(a) && a[i] == '*', j < len(b) && b[j] == '*'
			if starA {
				reach[i+1][j] = true
			}
			if starB {
				reach[i][j+1] = true
			}
			if i < len(a) && j < len(b) {
				switch {
				case starA && !starB:
					reach[i][j+1] = true
				case starB && !starA:
					reach[i+1][j] = true
				case !starA && a[i] == b[j]:
					reach[i+1][j+1] = true
				}
			}
		}
	}
	return reach[len(a)][len(b)]
}
