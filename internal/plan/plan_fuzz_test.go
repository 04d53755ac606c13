package plan

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
)

// The fuzz targets of the plan. Their seeds are the files in testdata/fuzz/<target>/,
// which every `go test` runs; `go test -run '^$' -fuzz '^FuzzComputePlan$'
// -fuzztime 20s ./internal/plan/` explores further.
//
// An entry is written as lines separated by ';', so that seeds read like specs:
//
//	user=dev:{{SessionName}};group=dev;tag=team=a;policy=edit@team-a,team-b-*;policy=view@cluster
//
// policy takes an alias (view, edit, admin, adminview) or an ARN, then '@' and
// "cluster" or a comma-separated list of namespaces. Unknown lines are ignored,
// so every mutation of a seed is still an entry.

// fzPolicyAliases keep the policy pool small, so that the desired and observed
// sides of a fuzzed input often name the same policy.
var fzPolicyAliases = map[string]string{
	"view":      "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
	"edit":      "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
	"admin":     "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
	"adminview": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy",
}

var fzTypes = []v1.AccessEntryType{v1.TypeStandard, v1.TypeEC2, v1.TypeEC2Linux, v1.TypeEC2Windows,
	v1.TypeFargateLinux, v1.TypeHybridLinux, v1.TypeHyperpodLinux}

// fzEntry is one side of a fuzzed input, parsed but not yet checked.
type fzEntry struct {
	user     *string
	groups   []string
	tags     [][2]string
	policies []fzPolicy
}

type fzPolicy struct {
	arn   string
	scope Scope
}

func fzParse(s string) fzEntry {
	var e fzEntry
	for _, line := range strings.Split(s, ";") {
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch key {
		case "user":
			e.user = &val
		case "group":
			e.groups = append(e.groups, val)
		case "tag":
			k, v, _ := strings.Cut(val, "=")
			e.tags = append(e.tags, [2]string{k, v})
		case "policy":
			arn, scope, _ := strings.Cut(val, "@")
			if full, ok := fzPolicyAliases[arn]; ok {
				arn = full
			}
			p := fzPolicy{arn: arn, scope: Scope{Type: string(v1.AccessScopeCluster)}}
			if scope != "cluster" && scope != "" {
				p.scope = Scope{Type: string(v1.AccessScopeNamespace), Namespaces: strings.Split(scope, ",")}
			}
			e.policies = append(e.policies, p)
		}
	}
	return e
}

// fzType maps any string to an access entry type: itself when it is one.
func fzType(s string) v1.AccessEntryType {
	if i := slices.Index(fzTypes, v1.AccessEntryType(s)); i >= 0 {
		return fzTypes[i]
	}
	return fzTypes[len(s)%len(fzTypes)]
}

// fzAccessEntry builds the AccessEntry the API server would store: what the CRD
// refuses is left out (empty values, duplicates of a set or map key, reserved tag
// keys), so that DesiredFor sees only admitted specs. Node types keep whatever
// they were given: the plan has to ignore username, groups and policies for them.
func fzAccessEntry(typ v1.AccessEntryType, principal string, e fzEntry) *v1.AccessEntry {
	ae := &v1.AccessEntry{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "dev"},
		Spec:       v1.AccessEntrySpec{ClusterName: "demo", PrincipalARN: principal, Type: typ},
	}
	if e.user != nil && *e.user != "" {
		ae.Spec.Username = *e.user
	}
	for _, g := range e.groups {
		if g != "" && !slices.Contains(ae.Spec.KubernetesGroups, v1.KubernetesGroup(g)) {
			ae.Spec.KubernetesGroups = append(ae.Spec.KubernetesGroups, v1.KubernetesGroup(g))
		}
	}
	for _, kv := range e.tags {
		k, lower := kv[0], fzLowerASCII(kv[0])
		if k == "" || len(k) > 128 || strings.HasPrefix(lower, "aws:") || strings.HasPrefix(lower, v1.TagPrefix) || len(ae.Spec.Tags) >= v1.MaxSpecTags {
			continue
		}
		if ae.Spec.Tags == nil {
			ae.Spec.Tags = map[string]v1.TagValue{}
		}
		ae.Spec.Tags[k] = v1.TagValue(kv[1])
	}
	for _, p := range e.policies {
		if p.arn == "" || slices.ContainsFunc(ae.Spec.AccessPolicies, func(q v1.AccessPolicy) bool { return q.PolicyARN == p.arn }) {
			continue
		}
		scope := v1.AccessScope{Type: v1.AccessScopeType(p.scope.Type)}
		for _, n := range p.scope.Namespaces {
			if n != "" && !slices.Contains(scope.Namespaces, v1.ScopeNamespace(n)) {
				scope.Namespaces = append(scope.Namespaces, v1.ScopeNamespace(n))
			}
		}
		if scope.Type == v1.AccessScopeNamespace && len(scope.Namespaces) == 0 {
			scope.Type = v1.AccessScopeCluster
		}
		ae.Spec.AccessPolicies = append(ae.Spec.AccessPolicies, v1.AccessPolicy{PolicyARN: p.arn, AccessScope: scope})
	}
	return ae
}

// fzLowerASCII is CEL's lowerAscii, which the CRD's tag rules use.
func fzLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// fzObserved builds the entry EKS reports: what EKS fills in when the input does
// not say (the derived username, the node groups), and no policies for node
// types, whose policies the controller never lists.
func fzObserved(typ v1.AccessEntryType, principal string, e fzEntry) Observed {
	o := Observed{ARN: "arn:aws:eks:us-west-2:111122223333:access-entry/demo/x", Type: string(typ), Tags: map[string]string{}}
	switch {
	case e.user != nil:
		o.Username = *e.user
	case typ == v1.TypeStandard:
		o.Username = awsarn.DefaultUsername(principal)
	default:
		o.Username = "system:node:{{EC2PrivateDNSName}}"
	}
	o.Groups = slices.Clone(e.groups)
	if typ != v1.TypeStandard && len(o.Groups) == 0 {
		o.Groups = []string{"system:nodes"}
	}
	for _, kv := range e.tags {
		o.Tags[kv[0]] = kv[1]
	}
	if typ == v1.TypeStandard {
		o.Policies = map[string]ObservedPolicy{}
		for _, p := range e.policies {
			o.Policies[p.arn] = ObservedPolicy{Scope: Scope{Type: p.scope.Type, Namespaces: Sorted(fzDedup(p.scope.Namespaces))}}
		}
	}
	return o
}

func fzDedup(s []string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// fzApply makes the plan's writes to o the way EKS does: an update replaces both
// username and groups (a nil or empty username is EKS's default, groups are
// deduplicated), tags are set and removed, associating replaces a policy's scope
// (namespaces deduplicated; the controller reads them back sorted), and
// disassociating removes it. o is not changed.
func fzApply(d Desired, o Observed, p Plan) Observed {
	out := o
	out.Groups = slices.Clone(o.Groups)
	out.Tags = maps.Clone(o.Tags)
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	if o.Policies != nil {
		out.Policies = maps.Clone(o.Policies)
	}
	if u := p.Update; u != nil {
		out.Username = awsarn.DefaultUsername(d.Identity.PrincipalARN)
		if u.Username != nil && *u.Username != "" {
			out.Username = *u.Username
		}
		out.Groups = fzDedup(u.Groups)
	}
	maps.Copy(out.Tags, p.SetTags)
	for _, k := range p.RemoveTags {
		delete(out.Tags, k)
	}
	for arn, s := range p.Associate {
		if out.Policies == nil {
			out.Policies = map[string]ObservedPolicy{}
		}
		out.Policies[arn] = ObservedPolicy{Scope: Scope{Type: s.Type, Namespaces: Sorted(fzDedup(s.Namespaces))}}
	}
	for _, arn := range p.Disassociate {
		delete(out.Policies, arn)
	}
	return out
}

// fzMismatch says how o differs from the spec d, judged without ComputePlan so
// that a plan that agrees with a wrong notion of "equal" is still caught; "" when
// EKS holds the spec.
func fzMismatch(d Desired, o Observed, managed []string) string {
	for k, v := range d.Tags {
		if cur, ok := o.Tags[k]; !ok || cur != v {
			return fmt.Sprintf("tag %s is %q (present %v), want %q", k, cur, ok, v)
		}
	}
	for _, k := range managed {
		if _, wanted := d.Tags[k]; !wanted {
			if _, ok := o.Tags[k]; ok {
				return fmt.Sprintf("tag %s left the spec but is still there", k)
			}
		}
	}
	if d.Identity.Type != v1.TypeStandard {
		return ""
	}
	want := d.Username
	if want == "" {
		want = awsarn.DefaultUsername(d.Identity.PrincipalARN)
	}
	if o.Username != want {
		return fmt.Sprintf("username %q, want %q", o.Username, want)
	}
	groups := slices.Clone(o.Groups)
	slices.Sort(groups)
	if !slices.Equal(groups, d.Groups) {
		return fmt.Sprintf("groups %q, want %q", groups, d.Groups)
	}
	if len(o.Policies) != len(d.Policies) {
		return fmt.Sprintf("%d policies, want %d", len(o.Policies), len(d.Policies))
	}
	for arn, s := range d.Policies {
		cur, ok := o.Policies[arn]
		if !ok || cur.Scope.Type != s.Type || strings.Join(cur.Scope.Namespaces, ",") != strings.Join(s.Namespaces, ",") {
			return fmt.Sprintf("policy %s is %+v (present %v), want %+v", arn, cur.Scope, ok, s)
		}
	}
	return ""
}

func FuzzComputePlan(f *testing.F) {
	f.Fuzz(func(t *testing.T, typName, principal, spec, eks, managedKeys string) {
		typ := fzType(typName)
		ae := fzAccessEntry(typ, principal, fzParse(spec))
		id := v1.EntryIdentity{ClusterName: "demo", Region: "us-west-2", PrincipalARN: principal, Type: typ}
		d := DesiredFor(ae, id, "i1")
		o := fzObserved(typ, principal, fzParse(eks))
		var managed []string
		if managedKeys != "" {
			managed = strings.Split(managedKeys, ",")
		}

		p := Compute(d, o, managed)
		if again := Compute(d, o, managed); !reflect.DeepEqual(again, p) {
			t.Fatalf("ComputePlan is not deterministic:\n%+v\n%+v", p, again)
		}
		if typ != v1.TypeStandard && p.Update != nil {
			t.Fatalf("type %s: the plan updates username or groups, which EKS sets for node types: %+v", typ, p)
		}
		if !typ.TakesPolicies() && (len(p.Associate) > 0 || len(p.Disassociate) > 0) {
			t.Fatalf("type %s: the plan changes policies, which the type takes none of: %+v", typ, p)
		}
		for _, k := range p.RemoveTags {
			if _, wanted := d.Tags[k]; wanted || !slices.Contains(managed, k) {
				t.Fatalf("removes tag %q, which is desired or was never managed (managed %q): %+v", k, managed, p)
			}
			if _, present := o.Tags[k]; !present {
				t.Fatalf("removes tag %q, which EKS does not hold", k)
			}
		}
		for k, v := range p.SetTags {
			if cur, ok := o.Tags[k]; ok && cur == v {
				t.Fatalf("sets tag %q=%q, which EKS already holds", k, v)
			}
		}
		for arn, s := range p.Associate {
			if cur, ok := o.Policies[arn]; ok && cur.Scope.equal(s) {
				t.Fatalf("associates %s with the scope EKS already holds", arn)
			}
		}

		after := fzApply(d, o, p)
		for k, v := range (ownership.Owner{Instance: "i1", Namespace: ae.Namespace, Name: ae.Name}).Tags() {
			if after.Tags[k] != v {
				t.Fatalf("ownership tag %s is %q after the plan, want %q (plan %+v)", k, after.Tags[k], v, p)
			}
		}
		for k, v := range o.Tags {
			_, wanted := d.Tags[k]
			if cur, kept := after.Tags[k]; !wanted && !slices.Contains(managed, k) && (!kept || cur != v) {
				t.Fatalf("tag %s=%q, neither desired nor managed, was changed or removed (plan %+v)", k, v, p)
			}
		}
		if diff := fzMismatch(d, after, managed); diff != "" {
			t.Fatalf("after the plan EKS does not hold the spec: %s\n desired  %+v\n observed %+v\n plan     %+v\n after    %+v", diff, d, o, p, after)
		}
		// The controller reads back with the spec's tag keys as managed tags.
		for _, m := range [][]string{managed, d.SpecTagKeys} {
			if rest := Compute(d, after, m); !rest.Empty() {
				t.Fatalf("not converged in one pass (managed %q):\n desired  %+v\n observed %+v\n plan     %+v\n after    %+v\n next     %+v",
					m, d, o, p, after, rest)
			}
		}
	})
}
