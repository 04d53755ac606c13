package guardrails

import (
	"math/rand/v2"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// prefixRule is the old recipe: every field under "{{namespace}}-", which lets a
// namespace reach an admitted namespace whose name continues its own.
func prefixRule(names ...string) v1.GrantRule {
	return v1.GrantRule{
		Name:       "teams",
		Namespaces: v1.RuleNamespaces{Names: names},
		Principals: v1.RulePrincipals{ARNs: []v1.Pattern{"arn:aws:iam::" + home + ":role/{{namespace}}-*"}},
		AccessPolicies: []v1.PolicyGrant{
			{PolicyARN: edit, Namespaces: []v1.NamespacePattern{"{{namespace}}", "{{namespace}}-*"}},
		},
		KubernetesGroups: []v1.Pattern{"{{namespace}}-*"},
		Usernames:        []v1.Pattern{"{{namespace}}-*"},
	}
}

// in is a request of namespace ns for a principal, groups and Edit scopes.
func in(ns, principal string, groups []string, scopes ...string) Request {
	r := Request{Namespace: ns, Principal: role(home, principal), Type: v1.TypeStandard, Groups: groups}
	if len(scopes) > 0 {
		r.Policies = map[string]plan.Scope{edit: {Type: "namespace", Namespaces: scopes}}
	}
	return r
}

func TestSiblings(t *testing.T) {
	admins := v1.GrantRule{Name: "admins", Principals: v1.RulePrincipals{Accounts: []string{home}}, Namespaces: v1.RuleNamespaces{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "admin"}}},
		AccessPolicies: []v1.PolicyGrant{{PolicyARN: edit}}, KubernetesGroups: []v1.Pattern{"{{namespace}}-*"}}
	labelled := map[string]map[string]string{"team-a": nil, "team-a-admin": {"tier": "admin"}, "team-a-dev": nil}
	withNamespaces := func(c Config, ns map[string]map[string]string) Config { c.Namespaces = ns; return c }
	suffix := v1.GrantRule{Name: "suffix", Principals: v1.RulePrincipals{Accounts: []string{home}}, Namespaces: v1.RuleNamespaces{Names: []string{"admin", "team-admin"}}, KubernetesGroups: []v1.Pattern{"*-{{namespace}}"}}
	cases := []struct {
		name string
		cfg  Config
		req  Request
		// refused are the values refused as another namespace's; nil: allowed.
		refused      []string
		entryAllowed bool
	}{
		{name: "a group under an admitted sibling's prefix", cfg: cfg(prefixRule("team-a", "team-a-admin")),
			req: in("team-a", "team-a-ci", []string{"team-a-devs", "team-a-admin-ops"}), refused: []string{`"team-a-admin-ops"`}, entryAllowed: true},
		{name: "the sibling's own group is its own", cfg: cfg(prefixRule("team-a", "team-a-admin")),
			req: in("team-a-admin", "team-a-admin-ci", []string{"team-a-admin-ops"}, "team-a-admin", "team-a-admin-*"), entryAllowed: true},
		{name: "a namespace no rule admits is not a sibling", cfg: cfg(prefixRule("team-a", "team-a-admin")),
			req: in("team-a", "team-a-dev-ci", []string{"team-a-dev-ops"}, "team-a-dev", "team-a-d*"), entryAllowed: true},
		{name: "a principal under a sibling's prefix refuses the entry", cfg: cfg(prefixRule("team-a", "team-a-admin")),
			req: in("team-a", "team-a-admin-deployer", nil), refused: []string{"spec.principalARN " + role(home, "team-a-admin-deployer")}},
		{name: "a sibling's name as a scope", cfg: cfg(prefixRule("team-a", "team-a-admin")),
			req: in("team-a", "team-a-ci", nil, "team-a", "team-a-admin"), refused: []string{"in namespaces team-a-admin is not allowed"}, entryAllowed: true},
		{name: "a wildcard scope that matches a sibling's name", cfg: cfg(prefixRule("team-a", "team-a-admin")),
			req: in("team-a", "team-a-ci", nil, "team-a-*"), refused: []string{"in namespaces team-a-* is not allowed"}, entryAllowed: true},
		{name: "a wildcard scope that reaches only a sibling's claim", cfg: cfg(prefixRule("team-a", "team-a-admin")),
			req: in("team-a", "team-a-ci", nil, "team-a-admin-*"), refused: []string{"in namespaces team-a-admin-* is not allowed"}, entryAllowed: true},
		{name: "a wildcard scope past a sibling that claims no wildcard", entryAllowed: true,
			cfg: cfg(prefixRule("team-a"), v1.GrantRule{Name: "admins", Principals: v1.RulePrincipals{Accounts: []string{home}}, Namespaces: v1.RuleNamespaces{Names: []string{"team-a-admin"}}, AccessPolicies: []v1.PolicyGrant{{PolicyARN: edit}}}),
			req: in("team-a", "team-a-ci", nil, "team-a-admin-*")},
		{name: "a username under a sibling's prefix", cfg: cfg(prefixRule("team-a", "team-a-admin")), entryAllowed: true,
			req: func() Request { r := in("team-a", "team-a-ci", nil); r.Username = "team-a-admin-x"; return r }(), refused: []string{`spec.username "team-a-admin-x"`}},
		{name: "a less specific sibling does not take the longer name's values", cfg: cfg(prefixRule("team", "team-a")), entryAllowed: true,
			req: in("team-a", "team-a-ci", []string{"team-a-x"}, "team-a", "team-a-*")},
		{name: "the shorter name loses what the longer claims", cfg: cfg(prefixRule("team", "team-a")), entryAllowed: true,
			req: in("team", "team-ci", []string{"team-b-x", "team-a-x"}, "team-*"), refused: []string{`"team-a-x"`, "in namespaces team-* is not allowed"}},
		{name: "suffix patterns: a sibling's suffix", cfg: cfg(suffix, prefixRule("admin")), entryAllowed: true,
			req: in("admin", "admin-ci", []string{"ops-admin", "ops-team-admin"}), refused: []string{`"ops-team-admin"`}},
		{name: "suffix patterns: the sibling keeps its own", cfg: cfg(suffix), entryAllowed: true,
			req: func() Request { r := in("team-admin", "x", []string{"ops-team-admin"}); return r }()},
		{name: "a tie refuses the first", entryAllowed: true,
			cfg: cfg(v1.GrantRule{Name: "one", Principals: v1.RulePrincipals{Accounts: []string{home}}, Namespaces: v1.RuleNamespaces{Names: []string{"a-b"}}, KubernetesGroups: []v1.Pattern{"{{namespace}}*"}},
				v1.GrantRule{Name: "two", Principals: v1.RulePrincipals{Accounts: []string{home}}, Namespaces: v1.RuleNamespaces{Names: []string{"a"}}, KubernetesGroups: []v1.Pattern{"{{namespace}}-b*"}}),
			req: in("a-b", "x", []string{"a-bc"}), refused: []string{`"a-bc"`}},
		{name: "a tie refuses the second", entryAllowed: true,
			cfg: cfg(v1.GrantRule{Name: "one", Principals: v1.RulePrincipals{Accounts: []string{home}}, Namespaces: v1.RuleNamespaces{Names: []string{"a-b"}}, KubernetesGroups: []v1.Pattern{"{{namespace}}*"}},
				v1.GrantRule{Name: "two", Principals: v1.RulePrincipals{Accounts: []string{home}}, Namespaces: v1.RuleNamespaces{Names: []string{"a"}}, KubernetesGroups: []v1.Pattern{"{{namespace}}-b*"}}),
			req: in("a", "x", []string{"a-bc"}), refused: []string{`"a-bc"`}},
		{name: "a claim through another rule", cfg: cfg(prefixRule("team-a"), admins, v1.GrantRule{Name: "named", Principals: v1.RulePrincipals{Accounts: []string{home}}, Namespaces: v1.RuleNamespaces{Names: []string{"team-a-admin"}},
			KubernetesGroups: []v1.Pattern{"{{namespace}}-*"}}), entryAllowed: true,
			req: in("team-a", "team-a-ci", []string{"team-a-admin-ops"}), refused: []string{`"team-a-admin-ops"`}},
		{name: "a sibling admitted by a selector", cfg: withNamespaces(cfg(prefixRule("team-a"), admins), labelled), entryAllowed: true,
			req: in("team-a", "team-a-ci", []string{"team-a-admin-ops", "team-a-dev-ops"}, "team-a-admin"), refused: []string{`"team-a-admin-ops"`, "in namespaces team-a-admin"}},
		{name: "a namespace the selector does not match is not a sibling", entryAllowed: true,
			cfg: withNamespaces(cfg(prefixRule("team-a"), admins), map[string]map[string]string{"team-a-admin": {"tier": "user"}}),
			req: in("team-a", "team-a-ci", []string{"team-a-admin-ops"}, "team-a-admin")},
		{name: "a pattern without {{namespace}} claims nothing", entryAllowed: true,
			cfg: cfg(prefixRule("team-a"), v1.GrantRule{Name: "fixed", Principals: v1.RulePrincipals{Accounts: []string{home}}, Namespaces: v1.RuleNamespaces{Names: []string{"team-a-admin"}}, KubernetesGroups: []v1.Pattern{"team-a-admin-*"}}),
			req: in("team-a", "team-a-ci", []string{"team-a-admin-ops"})},
		{name: "a pattern without {{namespace}} shares by design", entryAllowed: true,
			cfg: cfg(func() v1.GrantRule {
				r := prefixRule("team-a", "team-a-admin")
				r.KubernetesGroups = append(r.KubernetesGroups, "team-a-admin-ops")
				return r
			}()),
			req: in("team-a", "team-a-ci", []string{"team-a-admin-ops"})},
		{name: "an account the rule names shares its principals", entryAllowed: true,
			cfg: cfg(func() v1.GrantRule {
				r := prefixRule("team-a", "team-a-admin")
				r.Principals.Accounts = []string{home}
				return r
			}()),
			req: in("team-a", "team-a-admin-deployer", nil)},
		{name: "the recipe's separators reach no sibling", entryAllowed: true, cfg: cfg(v1.GrantRule{Name: "recipe",
			Namespaces:       v1.RuleNamespaces{Names: []string{"team-a", "team-a-admin"}},
			Principals:       v1.RulePrincipals{ARNs: []v1.Pattern{"arn:aws:iam::" + home + ":role/tenants/{{namespace}}/*"}},
			AccessPolicies:   []v1.PolicyGrant{{PolicyARN: edit, Namespaces: []v1.NamespacePattern{"{{namespace}}", "{{namespace}}-*"}}},
			KubernetesGroups: []v1.Pattern{"{{namespace}}:*"}, Usernames: []v1.Pattern{"{{namespace}}:{{SessionName}}"}}),
			req: func() Request {
				r := in("team-a", "tenants/team-a/deployer", []string{"team-a:admin-ops"}, "team-a", "team-a-dev")
				r.Username = "team-a:{{SessionName}}"
				return r
			}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Judge(c.cfg, c.req)
			if v.EntryAllowed != c.entryAllowed {
				t.Errorf("EntryAllowed %v, want %v: %s", v.EntryAllowed, c.entryAllowed, v.Message())
			}
			if len(c.refused) == 0 {
				if !v.Allowed() {
					t.Errorf("refused: %s", v.Message())
				}
				return
			}
			msg := v.Message()
			if v.Allowed() || len(v.Overlaps) == 0 {
				t.Fatalf("allowed (%d overlaps): %s", len(v.Overlaps), msg)
			}
			for _, w := range append(c.refused, "another namespace this config admits", "Fix:") {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not say %q", msg, w)
				}
			}
			// The message names the value asked for and the tenant's own pattern,
			// never the namespace that claims the value.
			for _, o := range v.Overlaps {
				rest := strings.ReplaceAll(msg, o.Pattern, "")
				for _, w := range c.refused {
					rest = strings.ReplaceAll(rest, w, "")
				}
				if strings.Contains(rest, o.Claimant) && !strings.Contains(c.req.Namespace, o.Claimant) {
					t.Errorf("message %q names namespace %s", msg, o.Claimant)
				}
			}
		})
	}
}

// TestSiblingsRestrictAndAdoption: revocation keeps, and adoption takes, only what
// no other admitted namespace claims.
func TestSiblingsRestrictAndAdoption(t *testing.T) {
	c := cfg(prefixRule("team-a", "team-a-admin"))
	d := plan.Desired{Username: "team-a-admin-x", Groups: []string{"team-a-devs", "team-a-admin-ops"},
		Policies: map[string]plan.Scope{edit: {Type: "namespace", Namespaces: []string{"team-a", "team-a-admin"}}}}
	r := in("team-a", "team-a-ci", d.Groups)
	r.Username, r.Policies = d.Username, d.Policies
	v := Judge(c, r)
	if v.Allowed() || !v.EntryAllowed {
		t.Fatalf("verdict: %s", v.Message())
	}
	got := v.Restrict(d)
	if got.Username != "" || len(got.Groups) != 1 || got.Groups[0] != "team-a-devs" || len(got.Policies) != 0 {
		t.Errorf("restricted to %+v: want the group team-a-devs only", got)
	}
	if len(d.Groups) != 2 || len(d.Policies) != 1 {
		t.Error("Restrict changed its input")
	}

	adopting := prefixRule("team-a", "team-a-admin")
	adopting.AllowAdoption = true
	v = Judge(cfg(adopting), in("team-a", "team-a-ci", nil))
	problems := strings.Join(v.JudgeAdoption(plan.Observed{Type: "STANDARD", Username: "team-a-admin-x", Groups: []string{"team-a-admin-ops", "team-a-devs"},
		Policies: map[string]plan.ObservedPolicy{edit: {Scope: plan.Scope{Type: "namespace", Namespaces: []string{"team-a-admin"}}}}}), "; ")
	for _, w := range []string{`username "team-a-admin-x"`, `group "team-a-admin-ops"`, "AmazonEKSEditPolicy in namespace team-a-admin"} {
		if !strings.Contains(problems, w) {
			t.Errorf("adoption problems %q do not name %s", problems, w)
		}
	}
	if strings.Contains(problems, "team-a-devs") {
		t.Errorf("adoption problems %q name the tenant's own group", problems)
	}
}

func TestAdmitted(t *testing.T) {
	rules := cfg(prefixRule("b", "a"), v1.GrantRule{Name: "sel", Principals: v1.RulePrincipals{Accounts: []string{home}}, Namespaces: v1.RuleNamespaces{Names: []string{"a"},
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"t": "1"}}}})
	rules.Namespaces = map[string]map[string]string{"c": {"t": "1"}, "d": {"t": "2"}, "a": {"t": "1"}}
	if got := strings.Join(rules.Admitted(), ","); got != "a,b,c" {
		t.Errorf("admitted %s, want a,b,c", got)
	}
}

func TestIntersect(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"team-a-*", "team-a-admin", true}, {"team-a-*", "team-b-*", false}, {"team-a-*", "team-a-admin-*", true},
		{"team-*", "team-a*", true}, {"team-a-d*", "team-a-admin-*", false}, {"*", "", true}, {"", "", true}, {"a", "", false},
		{"*a", "b*", true}, {"a*", "*b", true}, {"*a", "*b", false}, {"a*b", "a*c", false}, {"a*b*c", "*b*", true},
		{"x*", "y*", false}, {"ab", "a*b", true}, {"ab", "a*c", false},
	} {
		if got := Intersect(c.a, c.b); got != c.want {
			t.Errorf("Intersect(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
		if got := Intersect(c.b, c.a); got != c.want {
			t.Errorf("Intersect(%q, %q) = %v, want %v", c.b, c.a, got, c.want)
		}
	}
}

// TestIntersectBruteForce holds Intersect to a search for a common match among
// all strings over the patterns' alphabet: a shortest common match needs no
// character the patterns lack, and no more characters than their literals.
func TestIntersectBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		a, b := abPattern(rng.Uint64()), abPattern(rng.Uint64())
		if got, want := Intersect(a, b), bruteIntersect(a, b); got != want {
			t.Fatalf("Intersect(%q, %q) = %v, brute force %v", a, b, got, want)
		}
	}
}

func FuzzIntersect(f *testing.F) {
	f.Add(uint64(0x1234), uint64(0x4321))
	f.Fuzz(func(t *testing.T, x, y uint64) {
		a, b := abPattern(x), abPattern(y)
		if got, want := Intersect(a, b), bruteIntersect(a, b); got != want {
			t.Fatalf("Intersect(%q, %q) = %v, brute force %v", a, b, got, want)
		}
	})
}

// abPattern is a pattern of up to 6 characters of "ab*" drawn from x.
func abPattern(x uint64) string {
	b := make([]byte, x%7)
	x /= 7
	for i := range b {
		b[i] = "ab*"[x%3]
		x /= 3
	}
	return string(b)
}

// abStrings are the strings of up to 12 characters of "ab".
var abStrings = func() []string {
	out := []string{""}
	for i := 0; i < len(out); i++ {
		if len(out[i]) < 12 {
			out = append(out, out[i]+"a", out[i]+"b")
		}
	}
	return out
}()

func bruteIntersect(a, b string) bool {
	for _, s := range abStrings {
		if Glob(a, s) && Glob(b, s) {
			return true
		}
	}
	return false
}
