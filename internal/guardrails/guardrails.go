// Package guardrails judges an AccessEntry against the rules of its cluster's
// ClusterAccessConfig: which namespaces may grant access to the cluster, and what
// each may grant. It is pure: the controllers gather what it needs (the rules, the
// namespace's labels, the cluster's account) and act on its verdict.
package guardrails

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// namespaceToken stands for the AccessEntry's own namespace in a rule's patterns.
const namespaceToken = "{{namespace}}"

// Config is what the guardrails know of a cluster.
type Config struct {
	// Name of the ClusterAccessConfig, for messages.
	Name  string
	Rules []v1.GrantRule
	// Namespaces are the cluster's namespaces and their labels, to know which a
	// rule's selector admits: what they claim through {{namespace}} patterns is
	// refused to the others (siblings.go). Needed only when a rule has a selector.
	Namespaces map[string]map[string]string
	// MaxTenantEntries is spec.guardrails.maxTenantEntries; 0: no limit.
	MaxTenantEntries int
	// Account holds the cluster ("" when not known yet): a permission set
	// named without an account is in it.
	Account string

	siblings *siblings
}

// Request is what an AccessEntry asks for, as the guardrails judge it.
type Request struct {
	Namespace       string
	NamespaceLabels map[string]string
	// Principal is the ARN of the principal: spec.principalARN, or the role
	// the permission set resolved to ("" until it is resolved).
	Principal string
	// PermissionSet and SetAccount are spec.identityCenter's set and account
	// ("" for the cluster's); "" when the object names its principal by ARN.
	PermissionSet, SetAccount string
	Type                      v1.AccessEntryType
	// Username is "" when EKS derives it.
	Username string
	Groups   []string
	Policies map[string]plan.Scope
	// Reserved says why the principal is the platform's and no tenant's to name
	// (Reserved); "" when it is not.
	Reserved string
	// DeletionPolicy is what becomes of the entry when the object goes or moves
	// away; Retain needs a rule with allowRetain.
	DeletionPolicy v1.DeletionPolicy
	// Places says where the object stands among the AccessEntries of the
	// cluster, for the entry limits (limits.go); zero: not counted.
	Places Places
	// grantFor is how long a grant asked for lasts (JudgeGrant).
	grantFor time.Duration
}

// RequestFor is what an AccessEntry asks for.
func RequestFor(ae *v1.AccessEntry, nsLabels map[string]string) Request {
	d := plan.DesiredFor(ae, v1.EntryIdentity{PrincipalARN: ae.Principal(), Type: ae.Spec.EntryType()}, "")
	req := Request{Namespace: ae.Namespace, NamespaceLabels: nsLabels, Principal: ae.Principal(), Type: ae.Spec.EntryType(),
		Username: d.Username, Groups: d.Groups, Policies: d.Policies, DeletionPolicy: ae.Spec.DeletionPolicy}
	if ic := ae.Spec.IdentityCenter; ic != nil {
		req.PermissionSet, req.SetAccount = ic.PermissionSet, ic.Account
	}
	return req
}

// Verdict is the guardrails' answer about one request.
type Verdict struct {
	// Config names the ClusterAccessConfig judged against.
	Config string
	// Rule is the rule the verdict is about: the one that allows everything, or
	// the closest one (admitting the namespace, and the principal and type if any
	// rule does); "" when no rule admits the namespace.
	Rule string
	// EntryAllowed: the rule allows the entry itself (namespace, principal and
	// type), so what it must not hold can be removed from it rather than the whole
	// entry.
	EntryAllowed bool
	// Violations say what is not allowed, each naming the field, the value and what
	// the rule allows. Empty when the request is allowed.
	Violations []string
	// Overlaps are the values refused because another admitted namespace claims
	// them, naming it: for the platform team's logs, never the tenant's status.
	Overlaps []Overlap

	rule      *v1.GrantRule
	grant     bool
	siblings  *siblings
	ns        string
	principal string
}

// Allowed reports whether a rule allows everything the request asks for.
func (v Verdict) Allowed() bool { return v.rule != nil && len(v.Violations) == 0 }

// Message says why the request is refused and how to fix it.
func (v Verdict) Message() string {
	if v.rule == nil && v.grant {
		return fmt.Sprintf("no time-bound rule of ClusterAccessConfig %s admits namespace %s (spec.guardrails.rules[].timeBound). Fix: ask the platform team for a time-bound rule for namespace %s",
			v.Config, v.ns, v.ns)
	}
	if v.rule == nil {
		return fmt.Sprintf("no rule of ClusterAccessConfig %s admits namespace %s (spec.guardrails.rules). Fix: ask the platform team to add a rule for namespace %s to ClusterAccessConfig %s",
			v.Config, v.ns, v.ns, v.Config)
	}
	return fmt.Sprintf("not permitted by rule %s of ClusterAccessConfig %s: %s. Fix: change the AccessEntry to fit rule %s, or ask the platform team to extend it",
		v.Rule, v.Config, strings.Join(v.Violations, "; "), v.Rule)
}

// Judge holds a request to the rules. Each rule is judged on its own: the request
// is allowed when one rule admits its namespace and allows everything it asks for.
//
// A time-bound rule (timeBound) allows no standing AccessEntry: it is never the
// rule that allows one, and it is the closest only when no standing rule admits
// the namespace, to say that the access is there to be asked for.
func Judge(cfg Config, req Request) Verdict { return judge(cfg, req, false) }

// JudgeGrant holds the grant an AccessRequest asks for to the time-bound rules
// only: allowed when one admits the request's namespace and allows everything
// the grant holds. Its verdict's TimeBound says how the grant is approved.
func JudgeGrant(cfg Config, req Request, duration time.Duration) Verdict {
	req.grantFor = duration
	v := judge(cfg, req, true)
	if v.rule == nil {
		return Verdict{Config: cfg.Name, ns: req.Namespace, grant: true}
	}
	return v
}

// TimeBound is the time-bound part of the verdict's rule; nil for a standing rule.
func (v Verdict) TimeBound() *v1.TimeBoundGrants {
	if v.rule == nil {
		return nil
	}
	return v.rule.TimeBound
}

func judge(cfg Config, req Request, grant bool) Verdict {
	var closest *Verdict
	for i := range cfg.Rules {
		rule := &cfg.Rules[i]
		if !admits(rule, req.Namespace, req.NamespaceLabels) {
			continue
		}
		if timeBound := rule.TimeBound != nil; timeBound != grant {
			if timeBound && closest == nil {
				closest = &Verdict{Config: cfg.Name, Rule: rule.Name, rule: rule, ns: req.Namespace, principal: req.Principal,
					Violations: []string{fmt.Sprintf("rule %s allows only time-bound grants (timeBound): an AccessEntry cannot hold its access standing; ask for it with an AccessRequest (kubectl eksaccess request)", rule.Name)}}
			}
			continue
		}
		v := judgeRule(cfg, rule, req)
		judgeSiblings(&cfg, &v, req)
		judgeLimits(cfg, &v, req)
		if v.Allowed() {
			return v
		}
		if closest == nil || (v.EntryAllowed && !closest.EntryAllowed) {
			closest = &v
		}
	}
	if closest == nil {
		return Verdict{Config: cfg.Name, ns: req.Namespace}
	}
	return *closest
}

func judgeRule(cfg Config, rule *v1.GrantRule, req Request) Verdict {
	v := Verdict{Config: cfg.Name, Rule: rule.Name, rule: rule, ns: req.Namespace, principal: req.Principal}
	expand := func(p string) string { return strings.ReplaceAll(p, namespaceToken, req.Namespace) }
	bad := func(format string, args ...any) { v.Violations = append(v.Violations, fmt.Sprintf(format, args...)) }

	principalOK := true
	// Outside the rule's principals the answer is the same whether or not the
	// platform reserves the principal: a tenant cannot probe what it declares.
	switch {
	case req.PermissionSet != "" && !permissionSetAllowed(cfg, rule, req, expand):
		principalOK = false
		bad("%s is not allowed (allowed: %s)", req.subject(), describePermissionSets(rule, expand))
	case req.PermissionSet == "" && !principalAllowed(rule, req.Principal, expand):
		principalOK = false
		bad("spec.principalARN %s is not allowed (allowed: %s)", req.Principal, describePrincipals(rule, expand))
	case req.Reserved != "":
		principalOK = false
		bad("%s is reserved for the platform team (%s), whatever a rule allows: name another principal", req.subject(), req.Reserved)
	}
	typeOK := slices.Contains(allowedTypes(rule), req.Type)
	if !typeOK {
		bad("spec.type %s is not allowed (allowed: %s)", req.Type, joinTypes(allowedTypes(rule)))
	}
	v.EntryAllowed = principalOK && typeOK

	if req.Username != "" && !matchesAny(rule.Usernames, req.Username, expand) {
		bad("spec.username %q is not allowed (allowed: %s)", req.Username, describePatterns(rule.Usernames, expand, "only the username EKS derives: leave spec.username empty"))
	}
	for _, g := range req.Groups {
		if !matchesAny(rule.KubernetesGroups, g, expand) {
			bad("spec.kubernetesGroups %q is not allowed (allowed: %s)", g, describePatterns(rule.KubernetesGroups, expand, "none"))
		}
	}
	for _, arn := range slices.Sorted(maps.Keys(req.Policies)) {
		if problem := policyProblem(rule, arn, req.Policies[arn], expand); problem != "" {
			bad("%s", problem)
		}
	}
	if req.DeletionPolicy == v1.DeletionPolicyRetain && !rule.AllowRetain {
		bad("%s", retainProblem(rule.Name))
	}
	if tb := rule.TimeBound; tb != nil && req.grantFor > tb.MaxDuration.Duration {
		bad("spec.duration %s is longer than the rule allows (timeBound.maxDuration %s)", req.grantFor, tb.MaxDuration.Duration)
	}
	return v
}

// Restrict narrows what an entry should hold to what the verdict's rule allows:
// the policies and scopes, groups and username it does not allow are dropped (the
// username falls back to the one EKS derives). It is how revocation knows what to
// keep. With no rule, or a rule that refuses the entry itself, nothing is kept:
// callers delete the entry instead.
func (v Verdict) Restrict(d plan.Desired) plan.Desired {
	out := d
	if v.rule == nil || !v.EntryAllowed {
		return out
	}
	expand := func(p string) string { return strings.ReplaceAll(p, namespaceToken, v.ns) }
	if out.Username != "" && !matchesAny(v.rule.Usernames, out.Username, expand) {
		out.Username = ""
	}
	out.Groups = slices.DeleteFunc(slices.Clone(d.Groups), func(g string) bool { return !matchesAny(v.rule.KubernetesGroups, g, expand) })
	out.Policies = map[string]plan.Scope{}
	for arn, s := range d.Policies {
		if policyProblem(v.rule, arn, s, expand) == "" {
			out.Policies[arn] = s
		}
	}
	return v.withoutClaimed(out)
}

// JudgeAdoption lists what an existing entry holds beyond the verdict's rule: an
// AccessEntry may take over only an entry it could have made itself, so that
// adoption never hands a tenant a grant larger than its rule (or lets it strip one
// by bringing the entry to its spec). Values EKS fills in for node types are not
// judged; their type is.
func (v Verdict) JudgeAdoption(e plan.Observed) []string {
	if v.rule == nil {
		return []string{"no rule admits the namespace"}
	}
	var out []string
	if !v.rule.AllowAdoption {
		out = append(out, fmt.Sprintf("rule %s does not allow adoption (allowAdoption)", v.Rule))
	}
	expand := func(p string) string { return strings.ReplaceAll(p, namespaceToken, v.ns) }
	if !slices.Contains(allowedTypes(v.rule), v1.AccessEntryType(e.Type)) {
		out = append(out, fmt.Sprintf("the existing entry is of type %s, which rule %s does not allow", e.Type, v.Rule))
	}
	if e.Type != string(v1.TypeStandard) {
		return out
	}
	if e.Username != "" && e.Username != awsarn.DefaultUsername(v.principal) && !matchesAny(v.rule.Usernames, e.Username, expand) {
		out = append(out, fmt.Sprintf("the existing entry has username %q, which rule %s does not allow", e.Username, v.Rule))
	}
	for _, g := range e.Groups {
		if !matchesAny(v.rule.KubernetesGroups, g, expand) {
			out = append(out, fmt.Sprintf("the existing entry has group %q, which rule %s does not allow", g, v.Rule))
		}
	}
	for _, arn := range slices.Sorted(maps.Keys(e.Policies)) {
		if problem := policyProblem(v.rule, arn, e.Policies[arn].Scope, expand); problem != "" {
			out = append(out, fmt.Sprintf("the existing entry holds %s, which rule %s does not allow", strings.TrimPrefix(problem, "spec.accessPolicies "), v.Rule))
		}
	}
	return append(out, v.claimedIn(e)...)
}

// admits reports whether a rule admits a namespace, by name or by its labels.
func admits(rule *v1.GrantRule, ns string, nsLabels map[string]string) bool {
	if slices.Contains(rule.Namespaces.Names, ns) {
		return true
	}
	if rule.Namespaces.Selector == nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(rule.Namespaces.Selector)
	return err == nil && !sel.Empty() && sel.Matches(labels.Set(nsLabels))
}

// principalAllowed: the accounts and ARN patterns the rule names. A rule that
// names none allows no principal: which roles a namespace may hand access to is
// the platform team's to list, never a default that lets the first to apply
// claim the platform's or another team's role.
func principalAllowed(rule *v1.GrantRule, principal string, expand func(string) string) bool {
	account, _ := awsarn.AccountOf(principal)
	return slices.Contains(rule.Principals.Accounts, account) || matchesAny(rule.Principals.ARNs, principal, expand)
}

// MayName reports whether some rule admitting the request's namespace allows
// the entry itself, its principal (a permission set or an ARN) and type, no
// other admitted namespace claiming it, whatever else the request asks for.
func MayName(cfg Config, req Request) bool {
	for i := range cfg.Rules {
		rule := &cfg.Rules[i]
		if !admits(rule, req.Namespace, req.NamespaceLabels) {
			continue
		}
		v := judgeRule(cfg, rule, req)
		judgeSiblings(&cfg, &v, req)
		if v.EntryAllowed {
			return true
		}
	}
	return false
}

// permissionSetAllowed: a set the rule's permissionSets patterns name, in the
// cluster's account or one the rule's accounts list; or a set whose resolved
// role the rule allows as a principal.
func permissionSetAllowed(cfg Config, rule *v1.GrantRule, req Request, expand func(string) string) bool {
	if req.Principal != "" && principalAllowed(rule, req.Principal, expand) {
		return true
	}
	inAccount := req.SetAccount == "" || req.SetAccount == cfg.Account || slices.Contains(rule.Principals.Accounts, req.SetAccount)
	return inAccount && matchesAny(rule.Principals.PermissionSets, req.PermissionSet, expand)
}

func describePermissionSets(rule *v1.GrantRule, expand func(string) string) string {
	if len(rule.Principals.PermissionSets) == 0 {
		return "none: rule " + rule.Name + " names no permission sets; the platform team lists them in principals.permissionSets"
	}
	out := "permission sets " + describePatterns(rule.Principals.PermissionSets, expand, "") + " in the cluster's account"
	if len(rule.Principals.Accounts) > 0 {
		out += " or account " + strings.Join(rule.Principals.Accounts, ", ")
	}
	return out
}

// subject names the request's principal for messages: the permission set
// (and the role it resolved to), or the ARN.
func (req Request) subject() string {
	if req.PermissionSet == "" {
		return "spec.principalARN " + req.Principal
	}
	out := "spec.identityCenter.permissionSet " + req.PermissionSet
	if req.SetAccount != "" {
		out += " (account " + req.SetAccount + ")"
	}
	return out
}

func describePrincipals(rule *v1.GrantRule, expand func(string) string) string {
	if len(rule.Principals.Accounts) == 0 && len(rule.Principals.ARNs) == 0 {
		return "none: rule " + rule.Name + " names no principals; the platform team lists them in principals.arns or principals.accounts"
	}
	var parts []string
	if len(rule.Principals.Accounts) > 0 {
		parts = append(parts, "roles and users of account "+strings.Join(rule.Principals.Accounts, ", "))
	}
	if len(rule.Principals.ARNs) > 0 {
		parts = append(parts, describePatterns(rule.Principals.ARNs, expand, ""))
	}
	return strings.Join(parts, "; ")
}

func allowedTypes(rule *v1.GrantRule) []v1.AccessEntryType {
	if len(rule.Types) == 0 {
		return []v1.AccessEntryType{v1.TypeStandard}
	}
	return rule.Types
}

func joinTypes(ts []v1.AccessEntryType) string {
	var out []string
	for _, t := range ts {
		out = append(out, string(t))
	}
	return strings.Join(out, ", ")
}

// policyProblem says what a rule does not allow of one policy association, or "".
func policyProblem(rule *v1.GrantRule, arn string, s plan.Scope, expand func(string) string) string {
	i := slices.IndexFunc(rule.AccessPolicies, func(g v1.PolicyGrant) bool { return g.PolicyARN == arn })
	if i < 0 {
		var allowed []string
		for _, g := range rule.AccessPolicies {
			allowed = append(allowed, policyName(g.PolicyARN))
		}
		return fmt.Sprintf("spec.accessPolicies %s is not allowed (allowed: %s)", policyName(arn), orNone(allowed))
	}
	g := rule.AccessPolicies[i]
	if s.Type == string(v1.AccessScopeCluster) {
		if !g.ClusterScope {
			return fmt.Sprintf("spec.accessPolicies %s at cluster scope is not allowed (allowed: namespaces %s)", policyName(arn), strings.Join(scopePatterns(g, expand), ", "))
		}
		return ""
	}
	allowed := scopePatterns(g, expand)
	var outside []string
	for _, ns := range s.Namespaces {
		if !slices.ContainsFunc(allowed, func(a string) bool { return covers(a, ns) }) {
			outside = append(outside, ns)
		}
	}
	if len(outside) > 0 {
		return fmt.Sprintf("spec.accessPolicies %s in namespaces %s is not allowed (allowed: %s; a wildcard must not match beyond them)",
			policyName(arn), strings.Join(outside, ", "), strings.Join(allowed, ", "))
	}
	return ""
}

// scopePatterns are the namespaces a policy grant allows, expanded; the
// AccessEntry's own namespace when it names none.
func scopePatterns(g v1.PolicyGrant, expand func(string) string) []string {
	if len(g.Namespaces) == 0 {
		return []string{expand(namespaceToken)}
	}
	out := make([]string, 0, len(g.Namespaces))
	for _, n := range g.Namespaces {
		out = append(out, expand(string(n)))
	}
	return out
}

// covers reports whether every namespace that scope namespace ns can match (a name,
// or a prefix ending in '*') is matched by allowed pattern a.
func covers(a, ns string) bool {
	prefix, wild := strings.CutSuffix(a, "*")
	if !wild {
		return a == ns
	}
	return strings.HasPrefix(strings.TrimSuffix(ns, "*"), prefix)
}

func policyName(arn string) string {
	if p, ok := awsarn.ParsePolicy(arn); ok {
		return p.Name
	}
	return arn
}

func matchesAny(patterns []v1.Pattern, s string, expand func(string) string) bool {
	return slices.ContainsFunc(patterns, func(p v1.Pattern) bool { return Glob(expand(string(p)), s) })
}

func describePatterns(patterns []v1.Pattern, expand func(string) string, none string) string {
	var out []string
	for _, p := range patterns {
		out = append(out, expand(string(p)))
	}
	if len(out) == 0 {
		return none
	}
	return strings.Join(out, ", ")
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// Glob reports whether s matches pattern, where '*' matches any run of characters
// (slashes included) and every other character only itself.
func Glob(pattern, s string) bool {
	star, mark := -1, 0
	p, i := 0, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p, mark = star+1, mark+1
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// Trusted reports whether a namespace is one the operator honours without rules.
func Trusted(namespace string, trusted []string) bool { return slices.Contains(trusted, namespace) }

// Protected reports whether a principal is named by an unmanagedEntries.protect
// pattern, in any case: IAM names are case-insensitive, so role/Break-Glass is
// the role protect calls role/break-glass.
func Protected(patterns []string, principal string) bool {
	principal = strings.ToLower(principal)
	return slices.ContainsFunc(patterns, func(p string) bool { return Glob(strings.ToLower(p), principal) })
}

// creatorWindow is how soon after a cluster's creation an entry holding
// AmazonEKSClusterAdminPolicy is taken for the one EKS made for the cluster's
// creator.
const creatorWindow = 15 * time.Minute

// MadeForCreator reports whether an entry looks like the one EKS makes for the IAM
// principal that created the cluster: cluster-admin, created with the cluster.
func MadeForCreator(e plan.Observed, clusterCreated time.Time) bool {
	if clusterCreated.IsZero() || e.CreatedAt.IsZero() {
		return false
	}
	_, admin := e.Policies[awsarn.PolicyARN(partitionOf(e.ARN), "AmazonEKSClusterAdminPolicy")]
	d := e.CreatedAt.Sub(clusterCreated)
	return admin && d >= -time.Minute && d < creatorWindow
}

func partitionOf(arn string) string {
	if p, _, ok := strings.Cut(strings.TrimPrefix(arn, "arn:"), ":"); ok {
		return p
	}
	return "aws"
}
