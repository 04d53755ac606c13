package guardrails

import (
	"strings"
	"testing"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

func TestSharedPrincipals(t *testing.T) {
	own := v1.GrantRule{Name: "own", Namespaces: v1.RuleNamespaces{Names: []string{"team-a", "team-b"}},
		Principals: v1.RulePrincipals{ARNs: []v1.Pattern{"arn:aws:iam::" + home + ":role/tenants/{{namespace}}/*"}}}
	if got := cfg(own).SharedPrincipals(); len(got) != 0 {
		t.Errorf("{{namespace}} paths share nothing, got %q", got)
	}
	shared := own
	shared.Principals.ARNs = append(shared.Principals.ARNs, "arn:aws:iam::"+home+":role/ci-*")
	if got := cfg(shared).SharedPrincipals(); len(got) != 1 || !strings.Contains(got[0], "namespaces team-a (rule own: arn:aws:iam::"+home+":role/ci-*) and team-b") {
		t.Errorf("a pattern without {{namespace}} in a rule of two namespaces: %q", got)
	}
	accounts := v1.GrantRule{Name: "accounts", Namespaces: v1.RuleNamespaces{Names: []string{"team-c"}}, Principals: v1.RulePrincipals{Accounts: []string{home}}}
	got := cfg(own, accounts).SharedPrincipals()
	if len(got) != 2 || !strings.Contains(got[0], "team-a (rule own") || !strings.Contains(got[1], "team-b (rule own") || !strings.Contains(got[0], "team-c (rule accounts: every role and user of account "+home+")") {
		t.Errorf("a whole account overlaps every role of it: %q", got)
	}
	other := v1.GrantRule{Name: "other", Namespaces: v1.RuleNamespaces{Names: []string{"team-d"}}, Principals: v1.RulePrincipals{Accounts: []string{"444455556666"}}}
	if got := cfg(own, other).SharedPrincipals(); len(got) != 0 {
		t.Errorf("another account shares nothing: %q", got)
	}
}
