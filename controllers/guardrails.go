package controllers

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// CheckGuardrails lists what an AccessEntry asks for that the guardrails of its
// cluster do not allow; nil when everything is allowed. nsLabels are the labels of
// the AccessEntry's namespace.
func CheckGuardrails(ae *v1.AccessEntry, g v1.Guardrails, nsLabels map[string]string) []string {
	var out []string
	if len(g.AllowedNamespaces) > 0 && !slices.Contains(g.AllowedNamespaces, ae.Namespace) {
		out = append(out, fmt.Sprintf("namespace %s may not grant access to this cluster (allowed: %s)", ae.Namespace, strings.Join(g.AllowedNamespaces, ", ")))
	}
	if g.NamespaceSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(g.NamespaceSelector)
		if err != nil || !sel.Matches(labels.Set(nsLabels)) {
			out = append(out, fmt.Sprintf("namespace %s does not match the namespaceSelector %s", ae.Namespace, metav1.FormatLabelSelector(g.NamespaceSelector)))
		}
	}
	typ := ae.Spec.EntryType()
	if len(g.AllowedTypes) > 0 && !slices.Contains(g.AllowedTypes, typ) {
		var allowed []string
		for _, t := range g.AllowedTypes {
			allowed = append(allowed, string(t))
		}
		out = append(out, fmt.Sprintf("type %s is not allowed (allowed: %s)", typ, strings.Join(allowed, ", ")))
	}
	for _, p := range ae.Spec.AccessPolicies {
		if len(g.AllowedPolicyARNs) > 0 && !slices.Contains(g.AllowedPolicyARNs, p.PolicyARN) {
			out = append(out, fmt.Sprintf("access policy %s is not allowed", p.PolicyARN))
		}
		if g.AllowClusterScope != nil && !*g.AllowClusterScope && p.AccessScope.Type == v1.AccessScopeCluster {
			out = append(out, fmt.Sprintf("access policy %s at cluster scope is not allowed: use a namespace scope", p.PolicyARN))
		}
	}
	return out
}
