package guardrails

import (
	"strings"
	"testing"
	"time"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

func TestDecidePrune(t *testing.T) {
	clusterCreated := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	later := clusterCreated.Add(48 * time.Hour)
	policies := func(names ...string) map[string]plan.ObservedPolicy {
		m := map[string]plan.ObservedPolicy{}
		for _, n := range names {
			m[awsarn.PolicyARN("aws", n)] = plan.ObservedPolicy{Scope: plan.Scope{Type: "cluster"}}
		}
		return m
	}
	const (
		person  = "arn:aws:iam::111122223333:role/someone"
		node    = "arn:aws:iam::111122223333:role/node-group-1"
		linked  = "arn:aws:iam::111122223333:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS"
		creator = "arn:aws:iam::111122223333:user/admin"
	)
	del := v1.UnmanagedEntries{Policy: v1.UnmanagedDelete}
	cases := []struct {
		name       string
		u          v1.UnmanagedEntries
		in         PruneInput
		action     string
		reasonHas  string
		skipReason bool
	}{
		{name: "keep keeps everything", u: v1.UnmanagedEntries{Policy: v1.UnmanagedKeep},
			in: PruneInput{PrincipalARN: node, Observed: plan.Observed{Type: "EC2_LINUX"}}, action: PruneKept, skipReason: true},
		{name: "a person's entry is deleted", u: del,
			in: PruneInput{PrincipalARN: person, Observed: plan.Observed{Type: "STANDARD", CreatedAt: later, Policies: policies("AmazonEKSViewPolicy")}}, action: PruneDelete, skipReason: true},
		{name: "dry run", u: v1.UnmanagedEntries{Policy: v1.UnmanagedDelete, DryRun: true},
			in: PruneInput{PrincipalARN: person, Observed: plan.Observed{Type: "STANDARD", CreatedAt: later}}, action: PruneWouldDelete, skipReason: true},
		{name: "owned", u: del, in: PruneInput{PrincipalARN: person, Owned: true, Observed: plan.Observed{Type: "STANDARD"}}, action: PruneProtected, reasonHas: "ownership tags"},
		{name: "protect pattern", u: v1.UnmanagedEntries{Policy: v1.UnmanagedDelete, Protect: []string{"arn:aws:iam::111122223333:role/some*"}},
			in: PruneInput{PrincipalARN: person, Observed: plan.Observed{Type: "STANDARD"}}, action: PruneProtected, reasonHas: "role/some*"},
		{name: "node group entry", u: del, in: PruneInput{PrincipalARN: node, Observed: plan.Observed{Type: "EC2_LINUX"}}, action: PruneProtected, reasonHas: "EC2_LINUX"},
		{name: "fargate entry", u: del, in: PruneInput{PrincipalARN: node, Observed: plan.Observed{Type: "FARGATE_LINUX"}}, action: PruneProtected, reasonHas: "FARGATE_LINUX"},
		{name: "auto mode node entry", u: del, in: PruneInput{PrincipalARN: node, Observed: plan.Observed{Type: "EC2", Policies: policies("AmazonEKSAutoNodePolicy")}}, action: PruneProtected, reasonHas: "EC2"},
		{name: "auto mode cluster role", u: del,
			in:     PruneInput{PrincipalARN: person, Observed: plan.Observed{Type: "STANDARD", CreatedAt: later, Policies: policies("AmazonEKSComputePolicy", "AmazonEKSNetworkingPolicy")}},
			action: PruneProtected, reasonHas: "AmazonEKSComputePolicy"},
		{name: "capability role with a people policy as well", u: del,
			in:     PruneInput{PrincipalARN: person, Observed: plan.Observed{Type: "STANDARD", CreatedAt: later, Policies: policies("AmazonEKSArgoCDClusterPolicy", "AmazonEKSViewPolicy")}},
			action: PruneProtected, reasonHas: "AmazonEKSArgoCDClusterPolicy"},
		{name: "policy in another partition", u: del,
			in: PruneInput{PrincipalARN: "arn:aws-cn:iam::111122223333:role/x", Observed: plan.Observed{Type: "STANDARD", CreatedAt: later,
				Policies: map[string]plan.ObservedPolicy{awsarn.PolicyARN("aws-cn", "AmazonEKSKROPolicy"): {}}}},
			action: PruneProtected, reasonHas: "AmazonEKSKROPolicy"},
		{name: "service-linked role", u: del, in: PruneInput{PrincipalARN: linked, Observed: plan.Observed{Type: "STANDARD", CreatedAt: later}}, action: PruneProtected, reasonHas: "service-linked"},
		{name: "username only EKS gives", u: del, in: PruneInput{PrincipalARN: person, Observed: plan.Observed{Type: "STANDARD", CreatedAt: later, Username: "eks:capability"}}, action: PruneProtected, reasonHas: "eks:"},
		{name: "the creator's entry", u: del,
			in:     PruneInput{PrincipalARN: creator, Observed: plan.Observed{ARN: "arn:aws:eks:us-west-2:111122223333:access-entry/c/user/111122223333/admin/1", Type: "STANDARD", CreatedAt: clusterCreated.Add(time.Second), Policies: policies("AmazonEKSClusterAdminPolicy")}},
			action: PruneProtected, reasonHas: "creator"},
		{name: "a cluster admin added later is deleted", u: del,
			in:     PruneInput{PrincipalARN: creator, Observed: plan.Observed{ARN: "arn:aws:eks:us-west-2:111122223333:access-entry/c/user/111122223333/admin/1", Type: "STANDARD", CreatedAt: later, Policies: policies("AmazonEKSClusterAdminPolicy")}},
			action: PruneDelete, skipReason: true},
		{name: "deleteAlso by type", u: v1.UnmanagedEntries{Policy: v1.UnmanagedDelete, DeleteAlso: []string{"type:EC2_LINUX"}},
			in: PruneInput{PrincipalARN: node, Observed: plan.Observed{Type: "EC2_LINUX"}}, action: PruneDelete, skipReason: true},
		{name: "deleteAlso by type names only that type", u: v1.UnmanagedEntries{Policy: v1.UnmanagedDelete, DeleteAlso: []string{"type:EC2_LINUX"}},
			in: PruneInput{PrincipalARN: node, Observed: plan.Observed{Type: "EC2_WINDOWS"}}, action: PruneProtected, reasonHas: "EC2_WINDOWS"},
		{name: "deleteAlso by principal", u: v1.UnmanagedEntries{Policy: v1.UnmanagedDelete, DeleteAlso: []string{creator}},
			in:     PruneInput{PrincipalARN: creator, Observed: plan.Observed{ARN: "arn:aws:eks:us-west-2:111122223333:access-entry/c/user/111122223333/admin/1", Type: "STANDARD", CreatedAt: clusterCreated, Policies: policies("AmazonEKSClusterAdminPolicy")}},
			action: PruneDelete, skipReason: true},
		{name: "deleteAlso in a dry run", u: v1.UnmanagedEntries{Policy: v1.UnmanagedDelete, DryRun: true, DeleteAlso: []string{"type:FARGATE_LINUX"}},
			in: PruneInput{PrincipalARN: node, Observed: plan.Observed{Type: "FARGATE_LINUX"}}, action: PruneWouldDelete, skipReason: true},
		{name: "protect wins over deleteAlso", u: v1.UnmanagedEntries{Policy: v1.UnmanagedDelete, Protect: []string{node}, DeleteAlso: []string{node}},
			in: PruneInput{PrincipalARN: node, Observed: plan.Observed{Type: "EC2_LINUX"}}, action: PruneProtected, reasonHas: "protect"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			action, reason := DecidePrune(c.u, c.in, clusterCreated)
			if action != c.action {
				t.Fatalf("action %s (%s), want %s", action, reason, c.action)
			}
			if c.skipReason != (reason == "") || !strings.Contains(reason, c.reasonHas) {
				t.Fatalf("reason %q, want one containing %q", reason, c.reasonHas)
			}
		})
	}
}

// For who holds admin, a component's policy beside an admin-equivalent one does
// not make an entry EKS's: anyone who may associate policies can add one.
func TestMadeByEKSHoldingAdmin(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	observed := func(typ string, at time.Time, names ...string) plan.Observed {
		o := plan.Observed{Type: typ, CreatedAt: at, ARN: "arn:aws:eks:us-west-2:111122223333:access-entry/demo/role/111122223333/x/1", Policies: map[string]plan.ObservedPolicy{}}
		for _, n := range names {
			o.Policies[awsarn.PolicyARN("aws", n)] = plan.ObservedPolicy{}
		}
		return o
	}
	const person = "arn:aws:iam::111122223333:role/someone"
	for _, c := range []struct {
		name       string
		principal  string
		o          plan.Observed
		loose, eks bool
	}{
		{"a component's entry", person, observed("STANDARD", created.Add(time.Hour), "AmazonEKSArgoCDClusterPolicy"), true, true},
		{"a component's policy beside cluster-admin", person, observed("STANDARD", created.Add(time.Hour), "AmazonEKSAutoNodePolicy", "AmazonEKSClusterAdminPolicy"), true, false},
		{"Secrets read, alone", person, observed("STANDARD", created.Add(time.Hour), "AmazonEKSSecretReaderPolicy"), true, false},
		{"Argo CD's namespaced policy", person, observed("STANDARD", created.Add(time.Hour), "AmazonEKSArgoCDClusterPolicy", "AmazonEKSArgoCDPolicy"), true, false},
		{"the creator's entry", person, observed("STANDARD", created.Add(time.Second), "AmazonEKSClusterAdminPolicy"), true, true},
		{"a service-linked role with admin", "arn:aws:iam::111122223333:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS", observed("STANDARD", created.Add(time.Hour), "AmazonEKSClusterAdminPolicy"), true, true},
		{"a hand-made admin", person, observed("STANDARD", created.Add(time.Hour), "AmazonEKSAdminPolicy"), false, false},
	} {
		loose, strict := MadeByEKS(c.principal, c.o, created), MadeByEKSHoldingAdmin(c.principal, c.o, created)
		if (loose != "") != c.loose || (strict != "") != c.eks {
			t.Errorf("%s: MadeByEKS %q, MadeByEKSHoldingAdmin %q; want EKS's %v and %v", c.name, loose, strict, c.loose, c.eks)
		}
	}
}
