package report

import (
	"maps"
	"slices"
	"strings"

	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// policyName is an access policy's name, or the ARN when it is not one.
func policyName(arn string) string {
	if p, ok := awsarn.ParsePolicy(arn); ok {
		return p.Name
	}
	return arn
}

// scopeText is a scope as the report prints it: cluster, or namespace:a,b.
func scopeText(typ string, namespaces []string) string {
	if typ != "namespace" {
		return typ
	}
	return "namespace:" + strings.Join(plan.Sorted(namespaces), ",")
}

// describePlan says what differs between an entry and its declaration.
func describePlan(p plan.Plan, obs *plan.Observed) string {
	var parts []string
	if p.Update != nil {
		parts = append(parts, "username or groups differ (EKS: "+orNone(obs.Username)+", ["+strings.Join(plan.Sorted(obs.Groups), ",")+"])")
	}
	for _, arn := range slices.Sorted(maps.Keys(p.Associate)) {
		want := p.Associate[arn]
		if cur, held := obs.Policies[arn]; held {
			parts = append(parts, "the scope of "+policyName(arn)+" is "+scopeText(cur.Scope.Type, cur.Scope.Namespaces)+", declared "+scopeText(want.Type, want.Namespaces))
		} else {
			parts = append(parts, "lacks "+policyName(arn))
		}
	}
	for _, arn := range p.Disassociate {
		parts = append(parts, "holds "+policyName(arn)+", which is not declared")
	}
	if len(p.SetTags) > 0 || len(p.RemoveTags) > 0 {
		parts = append(parts, "tags differ")
	}
	return strings.Join(parts, "; ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
