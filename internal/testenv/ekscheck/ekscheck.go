// Package ekscheck judges whether the EKS emulator holds what an AccessEntry
// declares. The demo's --check and the soak both ask it. It is written from what
// EKS documents (its user guide and API reference) and the AccessEntry fields'
// docs, not from the operator's own plan (internal/plan): a judge that shared the
// plan's reading of the spec would pass whatever bug the plan has.
package ekscheck

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
)

// nodeGroup is the group EKS gives every node type (at least this one).
const nodeGroup = "system:nodes"

// Differences lists how the entry e that EKS holds differs from what ae declares,
// each as "NAME: what EKS holds, what the spec wants". It compares:
//   - the type: spec.type, STANDARD when empty;
//   - the username: spec.username, or when empty the one EKS fills in for the
//     type (see eksUsername);
//   - the groups: for STANDARD exactly spec.kubernetesGroups, in any order; a node
//     type holds the groups EKS gives it, system:nodes among them;
//   - the tags: exactly spec.tags and the ownership tags that name ae and the
//     operator instance, nothing else (nothing but the operator tags these entries);
//   - the access policies: each one of spec.accessPolicies once, with its scope
//     type and namespaces (a set: order and repeats do not count), and no other.
func Differences(ae *v1.AccessEntry, e eksemulator.Entry, instance string) []string {
	var out []string
	bad := func(format string, args ...any) {
		out = append(out, ae.Name+": "+fmt.Sprintf(format, args...))
	}
	typ := ae.Spec.Type
	if typ == "" {
		typ = v1.TypeStandard
	}
	if e.Type != string(typ) {
		bad("type %s, want %s", e.Type, typ)
	}

	switch wantUser := ae.Spec.Username; {
	case wantUser == "" && typ != v1.TypeStandard && eksUsername(ae.Spec.PrincipalARN, typ) == "":
		// A node type whose username the user guide does not give: EKS's own all the same.
		if !strings.HasPrefix(e.Username, "system:node:") {
			bad("username %q, want one EKS gives a node (system:node:...)", e.Username)
		}
	default:
		if wantUser == "" {
			wantUser = eksUsername(ae.Spec.PrincipalARN, typ)
		}
		if e.Username != wantUser {
			bad("username %q, want %q", e.Username, wantUser)
		}
	}

	if typ == v1.TypeStandard {
		var want []string
		for _, g := range ae.Spec.KubernetesGroups {
			want = append(want, string(g))
		}
		if got, want := sorted(e.KubernetesGroups), sorted(want); !slices.Equal(got, want) {
			bad("groups %v, want %v", got, want)
		}
	} else if !slices.Contains(e.KubernetesGroups, nodeGroup) {
		bad("groups %v, want the node groups EKS gives (%s among them)", e.KubernetesGroups, nodeGroup)
	}

	wantTags := map[string]string{
		ownership.TagInstance: instance, ownership.TagNamespace: ae.Namespace, ownership.TagName: ae.Name,
	}
	for k, v := range ae.Spec.Tags {
		wantTags[k] = string(v)
	}
	for _, k := range slices.Sorted(maps.Keys(wantTags)) {
		switch got, ok := e.Tags[k]; {
		case !ok:
			bad("no tag %s, want %s=%q", k, k, wantTags[k])
		case got != wantTags[k]:
			bad("tag %s=%q, want %q", k, got, wantTags[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(e.Tags)) {
		if _, ok := wantTags[k]; !ok {
			bad("tag %s=%q, which the spec does not declare", k, e.Tags[k])
		}
	}

	wantPolicies := map[string]string{}
	for _, p := range ae.Spec.AccessPolicies {
		var ns []string
		for _, n := range p.AccessScope.Namespaces {
			ns = append(ns, string(n))
		}
		wantPolicies[p.PolicyARN] = scope(string(p.AccessScope.Type), ns)
	}
	gotPolicies := map[string]string{}
	for _, p := range e.Policies {
		if _, twice := gotPolicies[p.PolicyARN]; twice {
			bad("policy %s associated more than once", p.PolicyARN)
		}
		gotPolicies[p.PolicyARN] = scope(p.ScopeType, p.Namespaces)
	}
	for _, arn := range slices.Sorted(maps.Keys(wantPolicies)) {
		switch got, ok := gotPolicies[arn]; {
		case !ok:
			bad("policy %s not associated, want it at %s", arn, wantPolicies[arn])
		case got != wantPolicies[arn]:
			bad("policy %s at %s, want %s", arn, got, wantPolicies[arn])
		}
	}
	for _, arn := range slices.Sorted(maps.Keys(gotPolicies)) {
		if _, ok := wantPolicies[arn]; !ok {
			bad("policy %s associated at %s, which the spec does not declare", arn, gotPolicies[arn])
		}
	}
	return out
}

// eksUsername is the username EKS fills in for an entry created without one, as
// the EKS user guide's table gives it: for STANDARD the ARN of an IAM user, or for
// a role the session ARN of its assumed role (arn:PARTITION:sts::ACCOUNT:
// assumed-role/NAME/{{SessionName}}, the role's path dropped); for the node
// types the guide lists, the node's name. "" for a node type it does not list.
func eksUsername(principal string, typ v1.AccessEntryType) string {
	switch typ {
	case v1.TypeStandard:
		// arn:PARTITION:iam::ACCOUNT:role/PATH/NAME, or user/PATH/NAME.
		parts := strings.SplitN(principal, ":", 6)
		if len(parts) < 6 || !strings.HasPrefix(parts[5], "role/") {
			return principal
		}
		name := parts[5][strings.LastIndex(parts[5], "/")+1:]
		return "arn:" + parts[1] + ":sts::" + parts[4] + ":assumed-role/" + name + "/{{SessionName}}"
	case v1.TypeEC2Linux, v1.TypeEC2Windows:
		return "system:node:{{EC2PrivateDNSName}}"
	case v1.TypeFargateLinux, v1.TypeHybridLinux:
		return "system:node:{{SessionName}}"
	}
	return ""
}

// scope writes an access scope so that two equal scopes compare equal: the
// namespaces sorted, repeats dropped.
func scope(typ string, namespaces []string) string {
	if typ == string(v1.AccessScopeCluster) && len(namespaces) == 0 {
		return "cluster scope"
	}
	return typ + " scope " + strings.Join(slices.Compact(sorted(namespaces)), ",")
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
