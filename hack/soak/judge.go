package main

import (
	"fmt"
	"slices"
	"strings"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// The tenancy invariants, judged after quiescence from what EKS holds and the
// rules as the soak wrote them (guardrails.Judge reads a rule; which entry is
// whose is read from EKS's tags and the soak's own model, never the operator's
// status or plan):
//
//	(i)    no entry whose ownership tags name a tenant namespace holds what that
//	       namespace's current rule forbids, whatever became of its object; and a
//	       tenant's Retain keeps an entry only where its rule allows Retain;
//	(ii)   every object of the trusted namespace is Ready and holds its entry;
//	(iii)  no entry of a protected principal, or of one a trusted object
//	       declares, is held by a tenant;
//	(iv)   no tenant entry holds a value that only a {{namespace}} pattern let
//	       through and that reaches into a prefix-named sibling's values;
//	(v)    the probe tenant's objects are Ready within a bound (probe.go);
//	(vii)  only the operator removes its finalizer; a tenant's Role writes only
//	       its own namespace's AccessEntries; a namespace holds no more entries
//	       than its rule's limit.
//
// A finding names the guard that keeps it (features.go), or none when the build
// has had the guard since before issue 25's second round.

// finding is a broken invariant.
type finding struct {
	invariant, feature, text string
}

// split sorts findings into those that fail the run and those that await a
// guard the build lacks (unless strict).
func split(fs []finding, f features, strict bool) (hard, awaiting []string) {
	for _, x := range fs {
		line := x.invariant + " " + x.text
		if x.feature == "" || f.has(x.feature) || strict {
			hard = append(hard, line)
		} else {
			awaiting = append(awaiting, line+" [awaits "+x.feature+"]")
		}
	}
	slices.Sort(hard)
	slices.Sort(awaiting)
	return hard, awaiting
}

// judgeTenancy checks invariants i to iv and vii.
func (m *model) judgeTenancy(c *counts) []finding {
	var out []finding
	held := m.entries()
	for _, k := range sortedKeys(held) {
		out = append(out, m.judgeEntry(k, held[k], c)...)
	}
	out = append(out, m.judgeTrusted(held, c)...)
	out = append(out, m.judgeLeft(held, c)...)
	out = append(out, m.judgeLimits(held, c)...)
	c.tenancy["(vii) a tenant removed the operator's finalizer"]++
	if len(m.strips) > 0 {
		out = append(out, finding{"(vii)", featAdmission, fmt.Sprintf("the API server let tenants remove the operator's finalizer %d times (e.g. %s)", len(m.strips), m.strips[0])})
	}
	c.tenancy["(vii) a tenant wrote outside its namespace's AccessEntries"]++
	for _, h := range m.holes {
		out = append(out, finding{"(vii)", "", "a tenant's Role let it " + h})
	}
	return out
}

// judgeEntry judges one entry EKS holds: i, iii and iv for a tenant's, and the
// keys tenant objects named.
func (m *model) judgeEntry(k string, e eksemulator.Entry, c *counts) []finding {
	owner, tagged := ownership.Of(e.Tags)
	if !tagged || owner.Instance != instance {
		return nil // unowned: the untouched-entries invariant answers for it
	}
	acct, cl := splitKey(k)
	if owner.Namespace == namespace {
		c.tenancy["(i) an entry a tenant object named, now the platform's"] += boolInt(m.tenantKeys[k] != "")
		return nil // the platform's: (ii), and the orphan check
	}
	var out []finding
	c.tenancy["(iii) a reserved principal's entry held by a tenant"]++
	if why := m.reserved(cl, e.PrincipalARN); why != "" && acct == m.accountOf(cl) {
		out = append(out, finding{"(iii)", "", fmt.Sprintf("%s: %s holds the entry of %s, which is reserved (%s)", k, owner, e.PrincipalARN, why)})
	}
	if acct != m.accountOf(cl) || (cl == clusters[1] && m.noConfig) {
		// No config reaches it now (re-pointed away, or deleted): only Retain keeps it (judgeLeft).
		c.tenancy["(i) a tenant entry out of the operator's reach"]++
		return out
	}
	// The object answers for the entry only while it still names it: one that
	// moved away under Retain left it behind, as a deleted one would.
	live, ok := m.live[owner.Name]
	liveOwner := ok && live.Namespace == owner.Namespace && key(m.accountOf(live.Spec.ClusterName), live.Spec.ClusterName, live.Spec.PrincipalARN) == k
	feature := ""
	if !liveOwner {
		feature = featRetain
	}
	c.tenancy["(i) a tenant entry holds nothing its namespace's current rule forbids"]++
	if v := m.forbidden(owner.Namespace, cl, e); len(v) > 0 {
		state := "its object is live"
		if !liveOwner {
			state = "its object is gone or moved away (" + m.how(k) + ")"
		}
		out = append(out, finding{"(i)", feature, fmt.Sprintf("%s: tagged as %s, %s, holds what rule set %q forbids: %s", k, owner, state, m.rules[cl], strings.Join(v, "; "))})
	}
	c.tenancy["(iv) a tenant entry reaches a sibling namespace"]++
	for _, r := range m.reachesSibling(owner.Namespace, cl, e) {
		out = append(out, finding{"(iv)", featSiblings, fmt.Sprintf("%s: tagged as %s, holds %s", k, owner, r)})
	}
	return out
}

// forbidden lists what namespace ns's current rule on the cluster does not
// allow of the entry, as guardrails.Judge reads the rule; the principal is
// reserved as the model knows it.
func (m *model) forbidden(ns, cluster string, e eksemulator.Entry) []string {
	req := guardrails.Request{Namespace: ns, Principal: e.PrincipalARN, Type: v1.AccessEntryType(e.Type), Policies: map[string]plan.Scope{},
		Reserved: m.reserved(cluster, e.PrincipalARN)}
	if e.Type == string(v1.TypeStandard) {
		if e.Username != awsarn.DefaultUsername(e.PrincipalARN) {
			req.Username = e.Username
		}
		req.Groups = e.KubernetesGroups
	}
	for _, p := range e.Policies {
		req.Policies[p.PolicyARN] = plan.Scope{Type: p.ScopeType, Namespaces: p.Namespaces}
	}
	var rules []v1.GrantRule
	if !(cluster == clusters[1] && m.noConfig) {
		rules = rulesOf(m.rules[cluster], m.feat)
	}
	v := guardrails.Judge(guardrails.Config{Name: cluster, Rules: rules}, req)
	if v.Allowed() {
		return nil
	}
	if len(v.Violations) == 0 {
		return []string{"no rule admits namespace " + ns}
	}
	return v.Violations
}

// reachesSibling lists the values of a tenant entry that fall among a
// prefix-named sibling namespace's (S or S-...) and that no pattern of the rule
// without {{namespace}} allows: only the namespace token let them through.
func (m *model) reachesSibling(ns, cluster string, e eksemulator.Entry) []string {
	var rule *v1.GrantRule
	if !(cluster == clusters[1] && m.noConfig) {
		for _, r := range rulesOf(m.rules[cluster], m.feat) {
			if slices.Contains(r.Namespaces.Names, ns) {
				rule = &r
			}
		}
	}
	if rule == nil {
		return nil // no rule: (i) refuses everything
	}
	var out []string
	for _, s := range append(tenants, probeNS) {
		if !strings.HasPrefix(s, ns+"-") {
			continue
		}
		in := func(v string) bool { return v == s || strings.HasPrefix(v, s+"-") }
		if p := e.PrincipalARN[strings.LastIndex(e.PrincipalARN, "/")+1:]; in(p) && !literal(rule.Principals.ARNs, e.PrincipalARN) {
			out = append(out, "principal "+e.PrincipalARN+" of "+s)
		}
		for _, g := range e.KubernetesGroups {
			if in(g) && !literal(rule.KubernetesGroups, g) {
				out = append(out, "group "+g+" of "+s)
			}
		}
		for _, p := range e.Policies {
			i := slices.IndexFunc(rule.AccessPolicies, func(g v1.PolicyGrant) bool { return g.PolicyARN == p.PolicyARN })
			if i < 0 {
				continue // not allowed at all: (i)
			}
			grant := rule.AccessPolicies[i]
			var pats []v1.Pattern
			for _, n := range grant.Namespaces {
				pats = append(pats, v1.Pattern(n))
			}
			for _, n := range p.Namespaces {
				if in(strings.TrimSuffix(n, "*")) && !literal(pats, n) {
					out = append(out, "scope "+n+" of "+s+" on "+p.PolicyARN)
				}
			}
		}
	}
	return out
}

// literal: a pattern without {{namespace}} matches v.
func literal(patterns []v1.Pattern, v string) bool {
	return slices.ContainsFunc(patterns, func(p v1.Pattern) bool {
		return !strings.Contains(string(p), "{{namespace}}") && guardrails.Glob(string(p), v)
	})
}

// judgeTrusted checks ii: each trusted object is Ready (or refused by EKS as
// its spec deserves) and its entry is tagged as its own.
func (m *model) judgeTrusted(held map[string]eksemulator.Entry, c *counts) []finding {
	var out []finding
	for _, name := range sortedKeys(m.live) {
		ae := m.live[name]
		if ae.Namespace != namespace {
			continue
		}
		c.tenancy["(ii) a trusted object Ready, holding its entry"]++
		want, got := m.expectedReason(ae), readyReason(m.final[name])
		if got != want {
			out = append(out, finding{"(ii)", "", fmt.Sprintf("%s/%s ended %s, want %s", namespace, name, got, want)})
			continue
		}
		if want != v1.ReasonSynced {
			continue
		}
		k := key(m.accountOf(ae.Spec.ClusterName), ae.Spec.ClusterName, ae.Spec.PrincipalARN)
		if e, ok := held[k]; !ok || !tagsName(e, ae) {
			out = append(out, finding{"(ii)", "", fmt.Sprintf("%s/%s is Ready, but the entry %s is not tagged as its own (tags %v)", namespace, name, k, e.Tags)})
		}
	}
	return out
}

// judgeLeft checks the rest of i for the entries tenants let go of: where the
// rule the object was judged by (and the current one) does not allow Retain,
// nothing of it remains, unless another object holds it now.
func (m *model) judgeLeft(held map[string]eksemulator.Entry, c *counts) []finding {
	var out []finding
	for _, k := range sortedKeys(m.left) {
		l := m.left[k]
		c.tenancy["(i) a tenant's Retain keeps an entry only where its rule allows it"]++
		e, ok := held[k]
		if !ok || l.how != "Retain" {
			continue // gone, or a removed finalizer's, which (vii) and the current rule judge
		}
		owner, _ := ownership.Of(e.Tags)
		if owner.Namespace != l.namespace || owner.Name != l.name {
			continue // another object's now
		}
		_, cl := splitKey(k)
		if extras[l.set].allowRetain || extras[m.rules[cl]].allowRetain {
			continue
		}
		// What the driver did to the object and the rules, and when, for the report.
		why := slices.Concat([]string{""}, m.history[l.name], m.rulesReport())
		out = append(out, finding{"(i)", featRetain, fmt.Sprintf("%s: %s/%s was deleted or moved under Retain, which rule set %q does not allow, yet EKS keeps its entry%s",
			k, l.namespace, l.name, l.set, strings.Join(why, "\n    "))})
	}
	return out
}

// judgeLimits checks that no namespace holds more entries in a cluster than its
// rule allows.
func (m *model) judgeLimits(held map[string]eksemulator.Entry, c *counts) []finding {
	n := map[string]int{}
	for k, e := range held {
		acct, cl := splitKey(k)
		if o, ok := ownership.Of(e.Tags); ok && o.Namespace != namespace && acct == m.accountOf(cl) {
			n[cl+" "+o.Namespace]++
		}
	}
	var out []finding
	for _, k := range sortedKeys(n) {
		cl, ns, _ := strings.Cut(k, " ")
		c.tenancy["(vii) a namespace within its entry limit"]++
		if limit := m.limitOf(ns, cl); n[k] > limit {
			out = append(out, finding{"(vii)", featLimits, fmt.Sprintf("%s holds %d entries in %s, above the limit of %d", ns, n[k], cl, limit)})
		}
	}
	return out
}

// how says how a tenant's object let go of the entry at k.
func (m *model) how(k string) string {
	if l, ok := m.left[k]; ok {
		return l.how
	}
	return "deleted"
}

func splitKey(k string) (acct, cluster string) {
	parts := strings.SplitN(k, " ", 3)
	return parts[0], parts[1]
}

func sortedKeys[V any](mp map[string]V) []string {
	out := make([]string, 0, len(mp))
	for k := range mp {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
