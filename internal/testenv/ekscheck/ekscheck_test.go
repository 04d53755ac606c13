package ekscheck

import (
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
)

const (
	role = "arn:aws:iam::111122223333:role/team/apps/deployer"
	view = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
	edit = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
)

func owned(name string, extra map[string]string) map[string]string {
	tags := map[string]string{ownership.TagInstance: "test", ownership.TagNamespace: "team-a", ownership.TagName: name}
	for k, v := range extra {
		tags[k] = v
	}
	return tags
}

func TestDifferences(t *testing.T) {
	standard := &v1.AccessEntry{
		ObjectMeta: metav1.ObjectMeta{Name: "deployer", Namespace: "team-a"},
		Spec: v1.AccessEntrySpec{ClusterName: "c", PrincipalARN: role,
			KubernetesGroups: []v1.KubernetesGroup{"b", "a"},
			Tags:             map[string]v1.TagValue{"team": "a"},
			AccessPolicies: []v1.AccessPolicy{
				{PolicyARN: view, AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}},
				{PolicyARN: edit, AccessScope: v1.AccessScope{Type: v1.AccessScopeNamespace, Namespaces: []v1.ScopeNamespace{"dev-*", "team-a"}}},
			}},
	}
	// What EKS holds for it: the derived username, groups and namespaces in
	// another order.
	held := eksemulator.Entry{PrincipalARN: role, Type: "STANDARD",
		Username:         "arn:aws:sts::111122223333:assumed-role/deployer/{{SessionName}}",
		KubernetesGroups: []string{"a", "b"}, Tags: owned("deployer", map[string]string{"team": "a"}),
		Policies: []eksemulator.Policy{
			{PolicyARN: edit, ScopeType: "namespace", Namespaces: []string{"team-a", "dev-*"}},
			{PolicyARN: view, ScopeType: "cluster"},
		}}
	nodes := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: "nodes", Namespace: "team-a"},
		Spec: v1.AccessEntrySpec{ClusterName: "c", PrincipalARN: "arn:aws:iam::111122223333:role/nodes", Type: v1.TypeEC2Windows}}
	heldNodes := eksemulator.Entry{PrincipalARN: nodes.Spec.PrincipalARN, Type: "EC2_WINDOWS", Username: "system:node:{{EC2PrivateDNSName}}",
		KubernetesGroups: []string{"system:nodes", "eks:kube-proxy-windows"}, Tags: owned("nodes", nil)}

	for _, tc := range []struct {
		name string
		ae   *v1.AccessEntry
		e    func(*eksemulator.Entry)
		spec func(*v1.AccessEntrySpec)
		want []string // a part of each difference, in order
	}{
		{name: "as declared", ae: standard},
		{name: "a node type as EKS makes it", ae: nodes},
		{name: "a user's derived username is its ARN", ae: standard,
			spec: func(s *v1.AccessEntrySpec) { s.PrincipalARN = "arn:aws:iam::111122223333:user/ops/alice" },
			e: func(e *eksemulator.Entry) {
				e.PrincipalARN, e.Username = "arn:aws:iam::111122223333:user/ops/alice", "arn:aws:iam::111122223333:user/ops/alice"
			}},
		{name: "a declared username", ae: standard, spec: func(s *v1.AccessEntrySpec) { s.Username = "dev:{{SessionName}}" },
			want: []string{`username "arn:aws:sts::111122223333:assumed-role/deployer/{{SessionName}}", want "dev:{{SessionName}}"`}},
		{name: "another type", ae: standard, e: func(e *eksemulator.Entry) { e.Type = "EC2_LINUX" }, want: []string{"type EC2_LINUX, want STANDARD"}},
		{name: "a group missing", ae: standard, e: func(e *eksemulator.Entry) { e.KubernetesGroups = []string{"a"} }, want: []string{"groups [a], want [a b]"}},
		{name: "a group too many", ae: standard, e: func(e *eksemulator.Entry) { e.KubernetesGroups = []string{"c", "b", "a"} }, want: []string{"groups [a b c], want [a b]"}},
		{name: "a node type without system:nodes", ae: nodes, e: func(e *eksemulator.Entry) { e.KubernetesGroups = nil }, want: []string{"system:nodes among them"}},
		{name: "a node type's username", ae: nodes, e: func(e *eksemulator.Entry) { e.Username = "system:node:{{SessionName}}" },
			want: []string{`want "system:node:{{EC2PrivateDNSName}}"`}},
		{name: "an ownership tag wrong", ae: standard, e: func(e *eksemulator.Entry) { e.Tags = owned("other", map[string]string{"team": "a"}) },
			want: []string{`tag eksaccess.io/name="other", want "deployer"`}},
		{name: "a tag missing", ae: standard, e: func(e *eksemulator.Entry) { e.Tags = owned("deployer", nil) }, want: []string{`no tag team, want team="a"`}},
		{name: "a tag left behind", ae: standard, e: func(e *eksemulator.Entry) { e.Tags = owned("deployer", map[string]string{"team": "a", "k0": "1"}) },
			want: []string{`tag k0="1", which the spec does not declare`}},
		{name: "a namespace missing", ae: standard, e: func(e *eksemulator.Entry) { e.Policies[0].Namespaces = []string{"team-a"} },
			want: []string{"policy " + edit + " at namespace scope team-a, want namespace scope dev-*,team-a"}},
		{name: "cluster scope for namespace scope", ae: standard, e: func(e *eksemulator.Entry) { e.Policies[0] = eksemulator.Policy{PolicyARN: edit, ScopeType: "cluster"} },
			want: []string{"policy " + edit + " at cluster scope, want namespace scope"}},
		{name: "a policy missing", ae: standard, e: func(e *eksemulator.Entry) { e.Policies = e.Policies[:1] }, want: []string{"policy " + view + " not associated"}},
		{name: "a policy too many", ae: nodes, e: func(e *eksemulator.Entry) { e.Policies = []eksemulator.Policy{{PolicyARN: view, ScopeType: "cluster"}} },
			want: []string{"policy " + view + " associated at cluster scope, which the spec does not declare"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ae := tc.ae.DeepCopy()
			if tc.spec != nil {
				tc.spec(&ae.Spec)
			}
			e := held
			if tc.ae == nodes {
				e = heldNodes
			}
			e.KubernetesGroups, e.Policies, e.Tags = slices.Clone(e.KubernetesGroups), slices.Clone(e.Policies), owned(ae.Name, nil)
			for k, v := range ae.Spec.Tags {
				e.Tags[k] = string(v)
			}
			if tc.e != nil {
				tc.e(&e)
			}
			got := Differences(ae, e, "test")
			if len(got) != len(tc.want) {
				t.Fatalf("got %d differences, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], ae.Name+": ") || !strings.Contains(got[i], w) {
					t.Errorf("difference %d is %q, want it to name %s and say %q", i, got[i], ae.Name, w)
				}
			}
		})
	}
}

func TestUndocumentedNodeUsername(t *testing.T) {
	ae := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: "auto", Namespace: "team-a"},
		Spec: v1.AccessEntrySpec{ClusterName: "c", PrincipalARN: "arn:aws:iam::111122223333:role/auto-nodes", Type: v1.TypeEC2}}
	e := eksemulator.Entry{PrincipalARN: ae.Spec.PrincipalARN, Type: "EC2", Username: "system:node:{{EC2PrivateDNSName}}",
		KubernetesGroups: []string{"system:nodes"}, Tags: owned("auto", nil)}
	if got := Differences(ae, e, "test"); len(got) != 0 {
		t.Errorf("a username EKS gives a node: %v", got)
	}
	e.Username = "arn:aws:sts::111122223333:assumed-role/auto-nodes/{{SessionName}}"
	if got := Differences(ae, e, "test"); len(got) != 1 || !strings.Contains(got[0], "want one EKS gives a node") {
		t.Errorf("a STANDARD username on a node entry: %v", got)
	}
}

func TestEKSUsername(t *testing.T) {
	for _, tc := range []struct {
		principal string
		typ       v1.AccessEntryType
		want      string
	}{
		{"arn:aws:iam::111122223333:role/admins", v1.TypeStandard, "arn:aws:sts::111122223333:assumed-role/admins/{{SessionName}}"},
		{"arn:aws-cn:iam::111122223333:role/a/b/admins", v1.TypeStandard, "arn:aws-cn:sts::111122223333:assumed-role/admins/{{SessionName}}"},
		{"arn:aws:iam::111122223333:user/alice", v1.TypeStandard, "arn:aws:iam::111122223333:user/alice"},
		{"arn:aws:iam::111122223333:role/nodes", v1.TypeEC2Linux, "system:node:{{EC2PrivateDNSName}}"},
		{"arn:aws:iam::111122223333:role/pods", v1.TypeFargateLinux, "system:node:{{SessionName}}"},
		{"arn:aws:iam::111122223333:role/hybrid", v1.TypeHybridLinux, "system:node:{{SessionName}}"},
		{"arn:aws:iam::111122223333:role/hyperpod", v1.TypeHyperpodLinux, ""},
	} {
		if got := eksUsername(tc.principal, tc.typ); got != tc.want {
			t.Errorf("eksUsername(%s, %s) = %q, want %q", tc.principal, tc.typ, got, tc.want)
		}
	}
}
