package guardrails

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// Actions pruning reports for an entry an AccessEntry outside the trusted
// namespaces left behind, judged against its namespace's rule (JudgeLeftover).
const (
	PruneRevoked     = "Revoked"
	PruneWouldRevoke = "WouldRevoke"
)

func retainProblem(rule string) string {
	return fmt.Sprintf("spec.deletionPolicy Retain is not allowed (rule %s does not set allowRetain). Fix: set spec.deletionPolicy: Delete, or ask the platform team for allowRetain on rule %s",
		rule, rule)
}

// KeepsRetain reports whether the verdict honours deletionPolicy Retain: its rule
// allows everything the request asks, Retain included.
func (v Verdict) KeepsRetain() bool {
	return v.rule != nil && v.rule.AllowRetain && len(v.Violations) == 0
}

// AllowsAdoption reports whether the verdict's rule lets AccessEntries adopt
// existing entries.
func (v Verdict) AllowsAdoption() bool { return v.rule != nil && v.rule.AllowAdoption }

// Leftover is the guardrails' answer about an entry an AccessEntry of a namespace
// outside the trusted ones left in EKS (deletionPolicy Retain, or a crash), which
// no object records any more.
type Leftover struct {
	Verdict
	// Delete: no rule with allowRetain admits the namespace and allows the entry
	// itself (principal and type): the whole entry goes.
	Delete bool
	// Keep is what the entry may go on holding when it is not deleted: the rule's
	// Restrict of what it holds.
	Keep plan.Desired
}

// JudgeLeftover holds an entry left behind by an AccessEntry of namespace ns to
// the rules of its cluster that allow Retain: only such a rule lets an entry
// outlive its object. The request is what the entry holds, under Retain.
func JudgeLeftover(cfg Config, ns string, nsLabels map[string]string, id v1.EntryIdentity, o plan.Observed) Leftover {
	held := desiredOf(id, o)
	req := Request{Namespace: ns, NamespaceLabels: nsLabels, Principal: id.PrincipalARN, Type: v1.AccessEntryType(o.Type),
		Username: held.Username, Groups: held.Groups, Policies: held.Policies, DeletionPolicy: v1.DeletionPolicyRetain}
	cfg.Rules = slices.DeleteFunc(slices.Clone(cfg.Rules), func(r v1.GrantRule) bool { return !r.AllowRetain })
	v := Judge(cfg, req)
	l := Leftover{Verdict: v}
	switch {
	case v.rule == nil || !v.EntryAllowed:
		l.Delete = true
	default:
		l.Keep = v.Restrict(held)
	}
	return l
}

// Reason says, for the platform team, why the leftover is judged as it is.
func (l Leftover) Reason() string {
	if l.rule == nil {
		return fmt.Sprintf("no rule of ClusterAccessConfig %s with allowRetain admits namespace %s", l.Config, l.ns)
	}
	return fmt.Sprintf("rule %s of ClusterAccessConfig %s (namespace %s) does not allow %s", l.Rule, l.Config, l.ns, strings.Join(l.Violations, "; "))
}

// desiredOf is what an entry holds, as a plan.Desired: the username "" when it is
// the one EKS derives, no groups or username for node types (EKS fills them in),
// and its tags as they are, so that a plan from it never touches them.
func desiredOf(id v1.EntryIdentity, o plan.Observed) plan.Desired {
	id.Type = v1.AccessEntryType(o.Type)
	d := plan.Desired{Identity: id, Tags: o.Tags, Policies: map[string]plan.Scope{}}
	if id.Type == v1.TypeStandard {
		d.Groups = plan.Sorted(o.Groups)
		if o.Username != awsarn.DefaultUsername(id.PrincipalARN) {
			d.Username = o.Username
		}
	}
	for _, arn := range slices.Sorted(maps.Keys(o.Policies)) {
		d.Policies[arn] = o.Policies[arn].Scope
	}
	return d
}
