package plan

import (
	"reflect"
	"testing"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
)

const (
	role     = "arn:aws:iam::111122223333:role/team/dev"
	view     = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
	edit     = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
	autoNode = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy"
)

var (
	owner       = ownership.Owner{Instance: "i1", Namespace: "ns", Name: "dev"}.Tags()
	clusterWide = Scope{Type: "cluster"}
)

func desired(typ v1.AccessEntryType, mutate func(*Desired)) Desired {
	d := Desired{
		Identity: v1.EntryIdentity{ClusterName: "demo", Region: "us-west-2", PrincipalARN: role, Type: typ},
		Tags:     map[string]string{},
		Policies: map[string]Scope{},
	}
	for k, v := range owner {
		d.Tags[k] = v
	}
	if mutate != nil {
		mutate(&d)
	}
	return d
}

// observed is a STANDARD entry as EKS shows it right after a create without a username.
func observed(mutate func(*Observed)) Observed {
	o := Observed{Type: "STANDARD", Username: awsarn.DefaultUsername(role), Tags: map[string]string{}, Policies: map[string]ObservedPolicy{}}
	for k, v := range owner {
		o.Tags[k] = v
	}
	if mutate != nil {
		mutate(&o)
	}
	return o
}

func TestCompute(t *testing.T) {
	user := "dev:{{SessionName}}"
	cases := []struct {
		name    string
		d       Desired
		o       Observed
		managed []string
		want    Plan
	}{
		{name: "in sync with derived username", d: desired(v1.TypeStandard, nil), o: observed(nil)},
		{name: "node type: EKS username and groups are not drift",
			d: desired(v1.TypeEC2Linux, nil),
			o: observed(func(o *Observed) {
				o.Type, o.Username, o.Groups, o.Policies = "EC2_LINUX", "system:node:{{EC2PrivateDNSName}}", []string{"system:nodes"}, nil
			})},
		{name: "groups compare as sets",
			d: desired(v1.TypeStandard, func(d *Desired) { d.Groups = []string{"a", "b"} }),
			o: observed(func(o *Observed) { o.Groups = []string{"b", "a"} })},
		{name: "groups change sends username too",
			d:    desired(v1.TypeStandard, func(d *Desired) { d.Username, d.Groups = user, []string{"a"} }),
			o:    observed(func(o *Observed) { o.Username = user }),
			want: Plan{Update: &EntryUpdate{Username: &user, Groups: []string{"a"}}}},
		{name: "username removed from spec goes back to EKS's",
			d:    desired(v1.TypeStandard, nil),
			o:    observed(func(o *Observed) { o.Username = "custom" }),
			want: Plan{Update: &EntryUpdate{Groups: []string{}}}},
		{name: "last group removed is sent as an empty list, not left out",
			d:    desired(v1.TypeStandard, nil),
			o:    observed(func(o *Observed) { o.Groups = []string{"viewers"} }),
			want: Plan{Update: &EntryUpdate{Groups: []string{}}}},
		{name: "declared tag enforced, undeclared tag left alone",
			d:    desired(v1.TypeStandard, func(d *Desired) { d.Tags["team"] = "a" }),
			o:    observed(func(o *Observed) { o.Tags["team"] = "b"; o.Tags["cost"] = "x" }),
			want: Plan{SetTags: map[string]string{"team": "a"}}},
		{name: "tag that left the spec is removed",
			d:       desired(v1.TypeStandard, nil),
			o:       observed(func(o *Observed) { o.Tags["team"] = "a"; o.Tags["cost"] = "x" }),
			managed: []string{"team", "gone-already"},
			want:    Plan{RemoveTags: []string{"team"}}},
		{name: "missing ownership tags are written",
			d:    desired(v1.TypeStandard, nil),
			o:    observed(func(o *Observed) { o.Tags = map[string]string{} }),
			want: Plan{SetTags: owner}},
		{name: "missing policy associated",
			d:    desired(v1.TypeStandard, func(d *Desired) { d.Policies[view] = clusterWide }),
			o:    observed(nil),
			want: Plan{Associate: map[string]Scope{view: clusterWide}}},
		{name: "scope change associates again without disassociating",
			d: desired(v1.TypeStandard, func(d *Desired) {
				d.Policies[edit] = Scope{Type: "namespace", Namespaces: []string{"a", "b"}}
			}),
			o: observed(func(o *Observed) {
				o.Policies[edit] = ObservedPolicy{Scope: Scope{Type: "namespace", Namespaces: []string{"a"}}}
			}),
			want: Plan{Associate: map[string]Scope{edit: {Type: "namespace", Namespaces: []string{"a", "b"}}}}},
		{name: "removed policy disassociated",
			d: desired(v1.TypeStandard, func(d *Desired) { d.Policies[view] = clusterWide }),
			o: observed(func(o *Observed) {
				o.Policies[view] = ObservedPolicy{Scope: clusterWide}
				o.Policies[edit] = ObservedPolicy{Scope: clusterWide}
			}),
			want: Plan{Disassociate: []string{edit}}},
		{name: "node type without declared policies plans none",
			d: desired(v1.TypeFargateLinux, nil),
			o: observed(func(o *Observed) { o.Type, o.Policies = "FARGATE_LINUX", nil })},
		{name: "EKS Auto Mode node role: its policy planned, EKS's username and groups not drift",
			d: desired(v1.TypeEC2, func(d *Desired) { d.Policies[autoNode] = clusterWide }),
			o: observed(func(o *Observed) {
				o.Type, o.Username, o.Groups = "EC2", "system:node:{{EC2PrivateDNSName}}", []string{"system:nodes"}
			}),
			want: Plan{Associate: map[string]Scope{autoNode: clusterWide}}},
		{name: "EKS Auto Mode node role: a policy nobody declared is disassociated",
			d: desired(v1.TypeEC2, func(d *Desired) { d.Policies[autoNode] = clusterWide }),
			o: observed(func(o *Observed) {
				o.Type, o.Username = "EC2", "system:node:{{EC2PrivateDNSName}}"
				o.Policies[autoNode], o.Policies[view] = ObservedPolicy{Scope: clusterWide}, ObservedPolicy{Scope: clusterWide}
			}),
			want: Plan{Disassociate: []string{view}}},
		{name: "a policy declared for a type EKS documents neither way is asked for, and EKS decides",
			d:    desired(v1.TypeHybridLinux, func(d *Desired) { d.Policies[view] = clusterWide }),
			o:    observed(func(o *Observed) { o.Type, o.Username, o.Policies = "HYBRID_LINUX", "system:node:{{SessionName}}", nil }),
			want: Plan{Associate: map[string]Scope{view: clusterWide}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Compute(tc.d, tc.o, tc.managed)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("plan:\n got  %+v\n want %+v", got, tc.want)
			}
			if got.Empty() != (tc.want.Writes() == 0) {
				t.Fatalf("Empty() = %v with %d writes", got.Empty(), got.Writes())
			}
		})
	}
}
