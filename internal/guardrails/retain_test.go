package guardrails

import (
	"fmt"
	"strings"
	"testing"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

func retaining(r v1.GrantRule) v1.GrantRule {
	r.AllowRetain = true
	return r
}

func TestJudgeRetain(t *testing.T) {
	retain := func(r *Request) { r.DeletionPolicy = v1.DeletionPolicyRetain }
	cases := []struct {
		name        string
		cfg         Config
		req         Request
		allowed     bool
		keepsRetain bool
		want        []string
	}{
		{name: "Delete needs no allowRetain", cfg: cfg(teamRule), req: req(func(r *Request) { r.DeletionPolicy = v1.DeletionPolicyDelete }), allowed: true},
		{name: "the default (empty) is Delete", cfg: cfg(teamRule), req: req(), allowed: true},
		{name: "Retain under a rule without allowRetain", cfg: cfg(teamRule), req: req(retain),
			want: []string{"spec.deletionPolicy Retain is not allowed", "rule teams does not set allowRetain", "set spec.deletionPolicy: Delete", "allowRetain on rule teams"}},
		{name: "Retain under a rule with allowRetain", cfg: cfg(retaining(teamRule)), req: req(retain), allowed: true, keepsRetain: true},
		{name: "Retain allowed, but something else refused: Retain not kept", cfg: cfg(retaining(teamRule)),
			req: req(retain, func(r *Request) { r.Groups = []string{"cluster-admins"} }), want: []string{`"cluster-admins"`}},
		{name: "another rule admits the namespace with allowRetain", cfg: cfg(teamRule, func() v1.GrantRule {
			r := retaining(teamRule)
			r.Name = "retainers"
			return r
		}()), req: req(retain), allowed: true, keepsRetain: true},
		{name: "a Retain rule for another namespace does not count", cfg: cfg(teamRule, func() v1.GrantRule {
			r := retaining(teamRule)
			r.Name, r.Namespaces = "others", v1.RuleNamespaces{Names: []string{"team-b"}}
			return r
		}()), req: req(retain), want: []string{"spec.deletionPolicy Retain is not allowed"}},
		{name: "no rule admits the namespace", cfg: cfg(retaining(teamRule)), req: req(retain, func(r *Request) { r.Namespace = "team-z" }),
			want: []string{"no rule"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := Judge(tc.cfg, tc.req)
			if v.Allowed() != tc.allowed || v.KeepsRetain() != tc.keepsRetain {
				t.Fatalf("allowed %v keepsRetain %v, want %v %v: %s", v.Allowed(), v.KeepsRetain(), tc.allowed, tc.keepsRetain, v.Message())
			}
			for _, w := range tc.want {
				if !strings.Contains(v.Message(), w) {
					t.Errorf("message %q does not say %q", v.Message(), w)
				}
			}
		})
	}
}

func TestJudgeLeftover(t *testing.T) {
	principal := role(home, "team-a-dev")
	id := v1.EntryIdentity{ClusterName: "prod", PrincipalARN: principal}
	ns := plan.Scope{Type: "namespace", Namespaces: []string{"team-a"}}
	held := func(mutate ...func(*plan.Observed)) plan.Observed {
		o := plan.Observed{ARN: "arn:entry", Type: "STANDARD", Username: "team-a:me", Groups: []string{"team-a-devs", "cluster-admins"},
			Tags:     map[string]string{"eksaccess.io/namespace": "team-a"},
			Policies: map[string]plan.ObservedPolicy{edit: {Scope: ns}, view: {Scope: ns}}}
		for _, m := range mutate {
			m(&o)
		}
		return o
	}
	narrow := retaining(teamRule)
	narrow.AccessPolicies = narrow.AccessPolicies[1:] // View only
	cases := []struct {
		name   string
		cfg    Config
		ns     string
		o      plan.Observed
		delete bool
		// keep is what stays, as policies and groups; want are fragments of Reason.
		keep string
		want []string
	}{
		{name: "the rule allows it all", cfg: cfg(retaining(teamRule)), ns: "team-a", o: held(func(o *plan.Observed) { o.Groups = o.Groups[:1] }),
			keep: "[AmazonEKSEditPolicy AmazonEKSViewPolicy] [team-a-devs] team-a:me"},
		{name: "narrowed: what it no longer allows goes", cfg: cfg(narrow), ns: "team-a", o: held(),
			keep: "[AmazonEKSViewPolicy] [team-a-devs] team-a:me", want: []string{"rule teams", "namespace team-a", "AmazonEKSEditPolicy", `"cluster-admins"`}},
		{name: "only rules with allowRetain count", cfg: cfg(teamRule), ns: "team-a", o: held(), delete: true,
			want: []string{"no rule of ClusterAccessConfig prod with allowRetain admits namespace team-a"}},
		{name: "no rule admits the namespace", cfg: cfg(retaining(teamRule)), ns: "team-z", o: held(), delete: true, want: []string{"namespace team-z"}},
		{name: "a principal the rule refuses", cfg: cfg(retaining(teamRule)), ns: "team-a", o: held(), delete: true,
			want: []string{"spec.principalARN"}},
		{name: "the derived username is no username", cfg: cfg(narrow), ns: "team-a",
			o:    held(func(o *plan.Observed) { o.Username, o.Groups, o.Policies = awsarn.DefaultUsername(principal), nil, nil }),
			keep: "[] [] "},
		{name: "a rule that names no principals", cfg: Config{Name: "prod", Rules: []v1.GrantRule{func() v1.GrantRule {
			r := retaining(teamRule)
			r.Principals = v1.RulePrincipals{}
			return r
		}()}}, ns: "team-a", o: held(), delete: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			i := id
			if tc.name == "a principal the rule refuses" {
				i.PrincipalARN = role(foreign, "x")
			}
			l := JudgeLeftover(tc.cfg, tc.ns, nil, i, tc.o)
			if l.Delete != tc.delete {
				t.Fatalf("delete %v, want %v (%s)", l.Delete, tc.delete, l.Reason())
			}
			if !l.Delete {
				var pols []string
				for arn := range l.Keep.Policies {
					pols = append(pols, policyName(arn))
				}
				if got := fmt.Sprint(plan.Sorted(pols), l.Keep.Groups, " ", l.Keep.Username); strings.ReplaceAll(got, "  ", " ") != tc.keep {
					t.Errorf("keeps %q, want %q", got, tc.keep)
				}
				// A plan from what it keeps never touches the entry's tags.
				if p := plan.Compute(l.Keep, tc.o, nil); len(p.SetTags)+len(p.RemoveTags) > 0 {
					t.Errorf("the plan changes tags: %+v", p)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(l.Reason(), w) {
					t.Errorf("reason %q does not say %q", l.Reason(), w)
				}
			}
		})
	}
}
