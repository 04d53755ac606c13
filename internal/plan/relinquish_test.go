package plan

import (
	"reflect"
	"testing"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
)

func TestRelinquish(t *testing.T) {
	const principal = "arn:aws:iam::111122223333:role/ops"
	const view, edit, admin = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
		"arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy", "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy"
	derived := awsarn.DefaultUsername(principal)
	ns := func(n ...string) Scope { return Scope{Type: "namespace", Namespaces: n} }
	cluster := Scope{Type: "cluster"}
	had := v1.AdoptedEntry{ARN: "arn:entry", Username: derived, KubernetesGroups: []string{"ops"}, TagKeys: []string{"team"},
		AccessPolicies: []v1.AssociatedAccessPolicy{
			{PolicyARN: view, AccessScope: v1.ObservedAccessScope{Type: "cluster"}},
			{PolicyARN: edit, AccessScope: v1.ObservedAccessScope{Type: "namespace", Namespaces: []string{"a", "b"}}},
		}}
	ours := ownership.Owner{Instance: "i", Namespace: "teams", Name: "ops"}.Tags()
	tags := func(extra ...string) map[string]string {
		t := map[string]string{"team": "x"}
		for k, v := range ours {
			t[k] = v
		}
		for _, k := range extra {
			t[k] = "v"
		}
		return t
	}
	cases := []struct {
		name    string
		obs     Observed
		written []string
		want    Plan
	}{
		{"as adopted but for the ownership tags: only those go",
			Observed{Type: "STANDARD", Username: derived, Groups: []string{"ops"}, Tags: tags(), Policies: map[string]ObservedPolicy{view: {Scope: cluster}, edit: {Scope: ns("a", "b")}}},
			nil, Plan{RemoveTags: []string{ownership.TagInstance, ownership.TagName, ownership.TagNamespace}}},
		{"a group, a policy, a wider scope and a tag added: each taken back",
			Observed{Type: "STANDARD", Username: derived, Groups: []string{"admins", "ops"}, Tags: tags("env"), Policies: map[string]ObservedPolicy{view: {Scope: cluster}, edit: {Scope: cluster}, admin: {Scope: ns("a")}}},
			[]string{"env"}, Plan{Update: &EntryUpdate{Groups: []string{"ops"}}, RemoveTags: []string{ownership.TagInstance, ownership.TagName, ownership.TagNamespace, "env"},
				Associate: map[string]Scope{edit: ns("a", "b")}, Disassociate: []string{admin}}},
		{"a scope moved to other namespaces: only those both cover stay, none is none",
			Observed{Type: "STANDARD", Username: derived, Groups: []string{"ops"}, Tags: tags(), Policies: map[string]ObservedPolicy{view: {Scope: ns("c")}, edit: {Scope: ns("b", "c")}}},
			nil, Plan{RemoveTags: []string{ownership.TagInstance, ownership.TagName, ownership.TagNamespace}, Associate: map[string]Scope{edit: ns("b")}}},
		{"what the object took away stays away; a username it set goes back",
			Observed{Type: "STANDARD", Username: "oncall", Groups: nil, Tags: map[string]string{}, Policies: map[string]ObservedPolicy{edit: {Scope: ns("a")}}},
			nil, Plan{Update: &EntryUpdate{Groups: []string{}}}},
		{"a spec tag that was there before stays",
			Observed{Type: "STANDARD", Username: derived, Groups: []string{"ops"}, Tags: tags(), Policies: map[string]ObservedPolicy{view: {Scope: cluster}}},
			[]string{"team"}, Plan{RemoveTags: []string{ownership.TagInstance, ownership.TagName, ownership.TagNamespace}}},
		{"a node entry: no username or groups to change, policies not listed",
			Observed{Type: "EC2_LINUX", Username: "system:node:{{EC2PrivateDNSName}}", Groups: []string{"system:nodes"}, Tags: tags()},
			nil, Plan{RemoveTags: []string{ownership.TagInstance, ownership.TagName, ownership.TagNamespace}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Relinquish(had, c.obs, principal, c.written); !reflect.DeepEqual(got, c.want) {
				t.Errorf("Relinquish =\n%+v\nwant\n%+v", got, c.want)
			}
		})
	}
	t.Run("a custom username the platform's rule revoked is not sent back", func(t *testing.T) {
		custom := had
		custom.Username = "ops-team"
		got := Relinquish(custom, Observed{Type: "STANDARD", Username: derived, Groups: []string{"ops"}}, principal, nil)
		if got.Update != nil {
			t.Errorf("update %+v: want none (the username stays the one EKS derives)", got.Update)
		}
	})
	t.Run("a custom username the entry had is sent back", func(t *testing.T) {
		custom := had
		custom.Username = "ops-team"
		got := Relinquish(custom, Observed{Type: "STANDARD", Username: "other", Groups: []string{"ops"}}, principal, nil)
		if got.Update == nil || got.Update.Username == nil || *got.Update.Username != "ops-team" {
			t.Errorf("update %+v: want the username ops-team back", got.Update)
		}
	})
}
