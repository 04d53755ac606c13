package guardrails

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

const (
	home    = "111122223333"
	foreign = "444455556666"
	edit    = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
	view    = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
	admin   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
)

func role(account, name string) string { return "arn:aws:iam::" + account + ":role/" + name }

// teamRule is the rule of the example: one tenant namespace, View and Edit
// at namespace scope only.
var teamRule = v1.GrantRule{
	Name:       "teams",
	Namespaces: v1.RuleNamespaces{Names: []string{"team-a"}, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "true"}}},
	AccessPolicies: []v1.PolicyGrant{
		{PolicyARN: edit, Namespaces: []v1.NamespacePattern{"{{namespace}}", "{{namespace}}-*"}},
		{PolicyARN: view},
	},
	Principals:       v1.RulePrincipals{Accounts: []string{home}},
	KubernetesGroups: []v1.Pattern{"{{namespace}}-*"},
	Usernames:        []v1.Pattern{"{{namespace}}:*"},
}

func cfg(rules ...v1.GrantRule) Config { return Config{Name: "prod", Rules: rules} }

func req(mutate ...func(*Request)) Request {
	r := Request{Namespace: "team-a", Principal: role(home, "team-a-dev"), Type: v1.TypeStandard,
		Policies: map[string]plan.Scope{edit: {Type: "namespace", Namespaces: []string{"team-a"}}}}
	for _, m := range mutate {
		m(&r)
	}
	return r
}

func TestJudge(t *testing.T) {
	cases := []struct {
		name         string
		cfg          Config
		req          Request
		allowed      bool
		entryAllowed bool
		// want are substrings of the message: the field, the value, what is allowed.
		want []string
	}{
		{name: "fits the rule", cfg: cfg(teamRule), req: req(), allowed: true, entryAllowed: true},
		{name: "own namespace and its prefix, with a wildcard inside the prefix", cfg: cfg(teamRule), allowed: true, entryAllowed: true,
			req: req(func(r *Request) {
				r.Policies[edit] = plan.Scope{Type: "namespace", Namespaces: []string{"team-a", "team-a-dev", "team-a-x*"}}
			})},
		{name: "admitted by label", cfg: cfg(teamRule), allowed: true, entryAllowed: true,
			req: req(func(r *Request) {
				r.Namespace, r.NamespaceLabels = "team-b", map[string]string{"tenant": "true"}
				r.Principal = role(home, "b")
				r.Policies = map[string]plan.Scope{edit: {Type: "namespace", Namespaces: []string{"team-b"}}}
			})},
		{name: "a group RBAC binds to cluster-admin", cfg: cfg(teamRule), entryAllowed: true,
			req:  req(func(r *Request) { r.Groups = []string{"cluster-admins"} }),
			want: []string{`spec.kubernetesGroups "cluster-admins" is not allowed`, "allowed: team-a-*", "rule teams", "Fix:"}},
		{name: "any username", cfg: cfg(teamRule), entryAllowed: true,
			req:  req(func(r *Request) { r.Username = "admin" }),
			want: []string{`spec.username "admin" is not allowed`, "team-a:*"}},
		{name: "a username with another team's prefix", cfg: cfg(teamRule), entryAllowed: true,
			req:  req(func(r *Request) { r.Username = "team-b:{{SessionName}}" }),
			want: []string{`spec.username "team-b:{{SessionName}}"`}},
		{name: "no usernames in the rule: only the derived one", cfg: cfg(v1.GrantRule{Name: "bare", Namespaces: v1.RuleNamespaces{Names: []string{"team-a"}}, Principals: v1.RulePrincipals{Accounts: []string{home}}}),
			entryAllowed: true, req: req(func(r *Request) { r.Username, r.Policies = "team-a:me", nil }),
			want: []string{"only the username EKS derives"}},
		{name: "Edit in kube-system", cfg: cfg(teamRule), entryAllowed: true,
			req: req(func(r *Request) {
				r.Policies[edit] = plan.Scope{Type: "namespace", Namespaces: []string{"kube-system"}}
			}),
			want: []string{"AmazonEKSEditPolicy in namespaces kube-system is not allowed", "allowed: team-a, team-a-*"}},
		{name: "a wildcard that covers other namespaces", cfg: cfg(teamRule), entryAllowed: true,
			req:  req(func(r *Request) { r.Policies[edit] = plan.Scope{Type: "namespace", Namespaces: []string{"k*", "t*"}} }),
			want: []string{"in namespaces k*, t* is not allowed", "a wildcard must not match beyond them"}},
		{name: "a wildcard just past the allowed prefix", cfg: cfg(teamRule), entryAllowed: true,
			req:  req(func(r *Request) { r.Policies[edit] = plan.Scope{Type: "namespace", Namespaces: []string{"team-a*"}} }),
			want: []string{"in namespaces team-a* is not allowed"}},
		{name: "cluster scope", cfg: cfg(teamRule), entryAllowed: true,
			req:  req(func(r *Request) { r.Policies[view] = plan.Scope{Type: "cluster"} }),
			want: []string{"AmazonEKSViewPolicy at cluster scope is not allowed"}},
		{name: "a policy the rule does not name", cfg: cfg(teamRule), entryAllowed: true,
			req:  req(func(r *Request) { r.Policies[admin] = plan.Scope{Type: "namespace", Namespaces: []string{"team-a"}} }),
			want: []string{"AmazonEKSClusterAdminPolicy is not allowed", "allowed: AmazonEKSEditPolicy, AmazonEKSViewPolicy"}},
		{name: "the same policy in another partition", cfg: cfg(teamRule), entryAllowed: true,
			req: req(func(r *Request) {
				r.Policies = map[string]plan.Scope{"arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSEditPolicy": {Type: "namespace", Namespaces: []string{"team-a"}}}
			}),
			want: []string{"is not allowed"}},
		{name: "a principal of another account", cfg: cfg(teamRule),
			req:  req(func(r *Request) { r.Principal = role(foreign, "anything") }),
			want: []string{"spec.principalARN arn:aws:iam::444455556666:role/anything is not allowed", "account 111122223333"}},
		{name: "a node type", cfg: cfg(teamRule),
			req:  req(func(r *Request) { r.Type, r.Policies = v1.TypeEC2Linux, nil }),
			want: []string{"spec.type EC2_LINUX is not allowed (allowed: STANDARD)"}},
		{name: "a namespace no rule admits", cfg: cfg(teamRule),
			req:  req(func(r *Request) { r.Namespace = "team-z" }),
			want: []string{"no rule of ClusterAccessConfig prod admits namespace team-z", "Fix:"}},
		{name: "a selector does not admit unlabelled namespaces", cfg: cfg(teamRule),
			req:  req(func(r *Request) { r.Namespace, r.NamespaceLabels = "team-c", map[string]string{"tenant": "false"} }),
			want: []string{"admits namespace team-c"}},
		{name: "principal patterns with the namespace token", entryAllowed: true, allowed: true,
			cfg: cfg(v1.GrantRule{Name: "ci", Namespaces: v1.RuleNamespaces{Names: []string{"team-a"}},
				Principals: v1.RulePrincipals{ARNs: []v1.Pattern{"arn:aws:iam::" + foreign + ":role/ci/{{namespace}}-*"}}}),
			req: req(func(r *Request) { r.Principal, r.Policies = role(foreign, "ci/team-a-deployer"), nil })},
		{name: "principal patterns do not fall back to the home account",
			cfg: cfg(v1.GrantRule{Name: "ci", Namespaces: v1.RuleNamespaces{Names: []string{"team-a"}},
				Principals: v1.RulePrincipals{ARNs: []v1.Pattern{"arn:aws:iam::" + foreign + ":role/ci/{{namespace}}-*"}}}),
			req:  req(func(r *Request) { r.Principal, r.Policies = role(home, "ci/team-a-deployer"), nil }),
			want: []string{"spec.principalARN"}},
		{name: "a second rule that fits wins over a first that does not", allowed: true, entryAllowed: true,
			cfg: cfg(v1.GrantRule{Name: "narrow", Namespaces: v1.RuleNamespaces{Names: []string{"team-a"}}}, teamRule), req: req()},
		{name: "an empty selector admits nothing", cfg: cfg(v1.GrantRule{Name: "empty", Namespaces: v1.RuleNamespaces{Selector: &metav1.LabelSelector{}}}),
			req: req(), want: []string{"admits namespace team-a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Judge(c.cfg, c.req)
			if v.Allowed() != c.allowed || v.EntryAllowed != c.entryAllowed {
				t.Fatalf("Allowed %v EntryAllowed %v, want %v %v: %s", v.Allowed(), v.EntryAllowed, c.allowed, c.entryAllowed, v.Message())
			}
			for _, w := range c.want {
				if !strings.Contains(v.Message(), w) {
					t.Errorf("message %q does not say %q", v.Message(), w)
				}
			}
		})
	}
}

// TestPrincipalsDefaultToNone: a rule that lists no principals lets its
// namespaces name none, not the cluster's own account: claims come from the
// platform's list, never from who applied first.
func TestPrincipalsDefaultToNone(t *testing.T) {
	r := teamRule
	r.Principals = v1.RulePrincipals{}
	v := Judge(cfg(r), req())
	if v.Allowed() || v.EntryAllowed {
		t.Fatalf("a rule with no principals allowed %s", req().Principal)
	}
	if !strings.Contains(v.Message(), "names no principals") {
		t.Errorf("message %q does not say the rule names no principals", v.Message())
	}
}

// TestReservedPrincipal: a principal reserved for the platform is refused
// whatever the rule allows, and the entry itself with it (revocation deletes it).
func TestReservedPrincipal(t *testing.T) {
	v := Judge(cfg(teamRule), req(func(r *Request) { r.Reserved = "the platform team protects it" }))
	if v.Allowed() || v.EntryAllowed {
		t.Fatalf("a reserved principal is allowed (entry allowed %v)", v.EntryAllowed)
	}
	if !strings.Contains(v.Message(), "is reserved for the platform team (the platform team protects it), whatever a rule allows") {
		t.Errorf("message %q", v.Message())
	}
	// Outside the rule's principals a reserved principal reads like any other:
	// the answer tells a tenant nothing of what the platform reserves.
	outside := Judge(cfg(teamRule), req(func(r *Request) { r.Principal, r.Reserved = role("444455556666", "platform-admins"), "reserved" }))
	if outside.Allowed() || strings.Contains(outside.Message(), "reserved") || !strings.Contains(outside.Message(), "is not allowed") {
		t.Errorf("a reserved principal outside the rule: %q", outside.Message())
	}
}

// TestRestrict: what revocation keeps is what the rule allows, and never more than
// the spec asked for.
func TestRestrict(t *testing.T) {
	d := plan.Desired{
		Username: "admin",
		Groups:   []string{"cluster-admins", "team-a-devs"},
		Policies: map[string]plan.Scope{
			edit:  {Type: "namespace", Namespaces: []string{"kube-system", "team-a"}},
			view:  {Type: "namespace", Namespaces: []string{"team-a"}},
			admin: {Type: "cluster"},
		},
	}
	v := Judge(cfg(teamRule), req(func(r *Request) { r.Username, r.Groups, r.Policies = d.Username, d.Groups, d.Policies }))
	if v.Allowed() || !v.EntryAllowed {
		t.Fatalf("verdict %+v", v)
	}
	got := v.Restrict(d)
	if got.Username != "" || len(got.Groups) != 1 || got.Groups[0] != "team-a-devs" {
		t.Errorf("username %q groups %q", got.Username, got.Groups)
	}
	if _, ok := got.Policies[edit]; ok || len(got.Policies) != 1 || got.Policies[view].Namespaces[0] != "team-a" {
		t.Errorf("policies %+v: want View in team-a only (Edit reaches kube-system, ClusterAdmin is not allowed)", got.Policies)
	}
	if len(d.Groups) != 2 || len(d.Policies) != 3 {
		t.Error("Restrict changed its input")
	}
	// The restricted entry is allowed.
	again := Judge(cfg(teamRule), req(func(r *Request) { r.Username, r.Groups, r.Policies = got.Username, got.Groups, got.Policies }))
	if !again.Allowed() {
		t.Errorf("the restricted entry is refused: %s", again.Message())
	}
}

func TestJudgeAdoption(t *testing.T) {
	adopting := teamRule
	adopting.AllowAdoption = true
	principal := role(home, "team-a-dev")
	base := plan.Observed{Type: "STANDARD", Username: "arn:aws:sts::" + home + ":assumed-role/team-a-dev/{{SessionName}}",
		Policies: map[string]plan.ObservedPolicy{edit: {Scope: plan.Scope{Type: "namespace", Namespaces: []string{"team-a"}}}}}
	cases := []struct {
		name string
		rule v1.GrantRule
		e    func(plan.Observed) plan.Observed
		want string // "" for allowed
	}{
		{name: "within the rule", rule: adopting, e: func(o plan.Observed) plan.Observed { return o }},
		{name: "the rule does not allow adoption", rule: teamRule, e: func(o plan.Observed) plan.Observed { return o }, want: "does not allow adoption"},
		{name: "holds cluster admin", rule: adopting, e: func(o plan.Observed) plan.Observed {
			o.Policies = map[string]plan.ObservedPolicy{admin: {Scope: plan.Scope{Type: "cluster"}}}
			return o
		}, want: "holds AmazonEKSClusterAdminPolicy"},
		{name: "holds Edit beyond the team's namespaces", rule: adopting, e: func(o plan.Observed) plan.Observed {
			o.Policies = map[string]plan.ObservedPolicy{edit: {Scope: plan.Scope{Type: "namespace", Namespaces: []string{"kube-system"}}}}
			return o
		}, want: "kube-system"},
		{name: "has a privileged group", rule: adopting, e: func(o plan.Observed) plan.Observed { o.Groups = []string{"cluster-admins"}; return o }, want: `group "cluster-admins"`},
		{name: "has a custom username", rule: adopting, e: func(o plan.Observed) plan.Observed { o.Username = "admin"; return o }, want: `username "admin"`},
		{name: "is a node entry", rule: adopting, e: func(o plan.Observed) plan.Observed {
			o.Type, o.Policies, o.Groups, o.Username = "EC2_LINUX", nil, []string{"system:nodes"}, "system:node:{{EC2PrivateDNSName}}"
			return o
		}, want: "of type EC2_LINUX"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Judge(cfg(c.rule), req(func(r *Request) { r.Principal = principal }))
			problems := v.JudgeAdoption(c.e(base))
			if (c.want == "") != (len(problems) == 0) || (c.want != "" && !strings.Contains(strings.Join(problems, "; "), c.want)) {
				t.Errorf("problems %q, want %q", problems, c.want)
			}
		})
	}
}

func TestCovers(t *testing.T) {
	for _, c := range []struct {
		allowed, ns string
		want        bool
	}{
		{"team-a", "team-a", true}, {"team-a", "team-ab", false}, {"team-a", "team-a*", false},
		{"team-a-*", "team-a-x", true}, {"team-a-*", "team-a-x*", true}, {"team-a-*", "team-a*", false},
		{"team-a-*", "team-a-", true}, {"*", "kube-system", true}, {"*", "k*", true}, {"k*", "kube-system", true},
	} {
		if got := covers(c.allowed, c.ns); got != c.want {
			t.Errorf("covers(%q, %q) = %v, want %v", c.allowed, c.ns, got, c.want)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"team-a:*", "team-a:{{SessionName}}", true}, {"team-a:*", "team-ab:x", false}, {"*", "", true},
		{"arn:aws:iam::1:role/*", "arn:aws:iam::1:role/a/b", true}, {"a*b*c", "aXbYc", true}, {"a*b*c", "aXbY", false},
		{"abc", "abc", true}, {"abc", "abcd", false}, {"*-admins", "cluster-admins", true},
	} {
		if got := Glob(c.p, c.s); got != c.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}

func TestProtectedAndCreator(t *testing.T) {
	if !Protected([]string{"arn:aws:iam::1:role/break-glass-*"}, "arn:aws:iam::1:role/break-glass-oncall") ||
		Protected([]string{"arn:aws:iam::1:role/break-glass-*"}, "arn:aws:iam::1:role/oncall") || Protected(nil, "x") {
		t.Error("Protected")
	}
	// IAM names are case-insensitive: another spelling of a protected role is that role.
	if !Protected([]string{"arn:aws:iam::1:role/break-glass-*"}, "arn:aws:iam::1:role/Break-Glass-OnCall") {
		t.Error("a protected role in other case is not protected")
	}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	creator := plan.Observed{ARN: "arn:aws:eks:us-west-2:1:access-entry/x", CreatedAt: created.Add(time.Second),
		Policies: map[string]plan.ObservedPolicy{admin: {Scope: plan.Scope{Type: "cluster"}}}}
	if !MadeForCreator(creator, created) {
		t.Error("the creator's entry is not recognized")
	}
	later := creator
	later.CreatedAt = created.Add(time.Hour)
	viewer := creator
	viewer.Policies = map[string]plan.ObservedPolicy{view: {}}
	if MadeForCreator(later, created) || MadeForCreator(viewer, created) || MadeForCreator(creator, time.Time{}) {
		t.Error("an entry made later, one without cluster admin, or one of a cluster of unknown age is taken for the creator's")
	}
}

// TestTimeBoundRuleAllowsNothingStanding: a time-bound rule allows no standing
// AccessEntry, even one that fits everything else it lists, and says so when no
// standing rule admits the namespace; a standing rule beside it is judged as
// before.
func TestTimeBoundRuleAllowsNothingStanding(t *testing.T) {
	oncall := teamRule
	oncall.Name = "oncall"
	oncall.AccessPolicies = []v1.PolicyGrant{{PolicyARN: admin, ClusterScope: true}, {PolicyARN: edit, Namespaces: []v1.NamespacePattern{"{{namespace}}"}}}
	oncall.TimeBound = &v1.TimeBoundGrants{MaxDuration: metav1.Duration{Duration: 4 * time.Hour}, Approvers: v1.Approvers{Groups: []string{"platform-oncall"}}}
	adminReq := req(func(r *Request) { r.Policies = map[string]plan.Scope{admin: {Type: "cluster"}} })

	v := Judge(cfg(oncall), adminReq)
	if v.Allowed() || v.EntryAllowed || v.Rule != "oncall" || !strings.Contains(v.Message(), "allows only time-bound grants") {
		t.Fatalf("a standing ClusterAdmin entry under the time-bound rule only: allowed %v, entry allowed %v, rule %q, message %q",
			v.Allowed(), v.EntryAllowed, v.Rule, v.Message())
	}
	if v := Judge(cfg(oncall), req()); v.Allowed() {
		t.Fatalf("a standing Edit entry that fits the time-bound rule's list was allowed by %s", v.Rule)
	}
	if v := Judge(cfg(oncall, teamRule), req()); !v.Allowed() || v.Rule != "teams" {
		t.Fatalf("the standing rule beside it: allowed %v by %q (%s)", v.Allowed(), v.Rule, v.Message())
	}
	if v := Judge(cfg(oncall, teamRule), adminReq); v.Allowed() || v.Rule != "teams" {
		t.Fatalf("ClusterAdmin standing beside both rules: allowed %v, closest %q (%s)", v.Allowed(), v.Rule, v.Message())
	}
}

// TestJudgeGrant: a request's grant is held to the time-bound rules only, with
// the same allow-lists as any rule; a standing rule allows no grant.
func TestJudgeGrant(t *testing.T) {
	oncall := teamRule
	oncall.Name = "oncall"
	oncall.AccessPolicies = []v1.PolicyGrant{{PolicyARN: admin, ClusterScope: true}}
	oncall.TimeBound = &v1.TimeBoundGrants{MaxDuration: metav1.Duration{Duration: 4 * time.Hour}, Approvers: v1.Approvers{Groups: []string{"platform-oncall"}}}
	adminReq := req(func(r *Request) { r.Policies = map[string]plan.Scope{admin: {Type: "cluster"}} })

	if v := JudgeGrant(cfg(teamRule, oncall), adminReq, time.Hour); !v.Allowed() || v.Rule != "oncall" || v.TimeBound() != oncall.TimeBound {
		t.Fatalf("ClusterAdmin asked for under the time-bound rule: allowed %v by %q (%s)", v.Allowed(), v.Rule, v.Message())
	}
	if v := JudgeGrant(cfg(teamRule, oncall), req(), time.Hour); v.Allowed() {
		t.Fatalf("Edit, which only the standing rule lists, was granted by %s", v.Rule)
	}
	foreignAdmin := req(func(r *Request) {
		r.Principal = role(foreign, "x")
		r.Policies = map[string]plan.Scope{admin: {Type: "cluster"}}
	})
	if v := JudgeGrant(cfg(oncall), foreignAdmin, time.Hour); v.Allowed() || !strings.Contains(v.Message(), "spec.principalARN") {
		t.Fatalf("a principal the time-bound rule does not allow: allowed %v (%s)", v.Allowed(), v.Message())
	}
	if v := JudgeGrant(cfg(teamRule, oncall), adminReq, 5*time.Hour); v.Allowed() || !strings.Contains(v.Message(), "maxDuration 4h0m0s") {
		t.Fatalf("5 hours under a rule of at most 4: allowed %v (%s)", v.Allowed(), v.Message())
	}
	if v := JudgeGrant(cfg(teamRule), adminReq, time.Hour); v.Allowed() || !strings.Contains(v.Message(), "no time-bound rule") {
		t.Fatalf("no time-bound rule: allowed %v (%s)", v.Allowed(), v.Message())
	}
}

// TestPermissionSets: a set named by spec.identityCenter is allowed by the
// rule's permissionSets patterns in the cluster's account (another account
// needs listing in accounts), or by the rule allowing its resolved role; its
// role is still judged as a principal (reserved), and a {{namespace}} pattern
// does not reach a sibling namespace's sets.
func TestPermissionSets(t *testing.T) {
	people := v1.GrantRule{Name: "people", Namespaces: v1.RuleNamespaces{Names: []string{"team-a", "team-a-admin"}},
		Principals: v1.RulePrincipals{PermissionSets: []v1.Pattern{"{{namespace}}-*", "Viewers"}}}
	c := cfg(people)
	c.Account = home
	set := func(ns, name, account, resolved string) Request {
		return Request{Namespace: ns, Type: v1.TypeStandard, PermissionSet: name, SetAccount: account, Principal: resolved}
	}
	ssoRole := func(account, name string) string {
		return "arn:aws:iam::" + account + ":role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_" + name + "_0123456789abcdef"
	}
	cases := []struct {
		name    string
		cfg     Config
		req     Request
		allowed bool
		says    string
	}{
		{name: "its own set, before it is resolved", cfg: c, req: set("team-a", "team-a-readers", "", ""), allowed: true},
		{name: "its own set, resolved", cfg: c, req: set("team-a", "team-a-readers", "", ssoRole(home, "team-a-readers")), allowed: true},
		{name: "a shared set", cfg: c, req: set("team-a", "Viewers", home, ""), allowed: true},
		{name: "a set no pattern names", cfg: c, req: set("team-a", "PlatformAdmins", "", ""),
			says: "spec.identityCenter.permissionSet PlatformAdmins is not allowed (allowed: permission sets"},
		{name: "a set in another account", cfg: c, req: set("team-a", "team-a-readers", foreign, ""),
			says: "spec.identityCenter.permissionSet team-a-readers (account " + foreign + ") is not allowed"},
		{name: "a sibling's set through {{namespace}}-*", cfg: c, req: set("team-a", "team-a-admin-ops", "", ""),
			says: "spec.identityCenter.permissionSet team-a-admin-ops is not allowed: rule people allows it here through \"team-a-*\""},
		{name: "the sibling's own set", cfg: c, req: set("team-a-admin", "team-a-admin-ops", "", ""), allowed: true},
		{name: "a reserved role behind an allowed set", cfg: c, req: func() Request {
			r := set("team-a", "team-a-readers", "", ssoRole(home, "team-a-readers"))
			r.Reserved = "spec.unmanagedEntries.protect names it"
			return r
		}(), says: "is reserved for the platform team"},
		{name: "a rule that allows the resolved role by ARN", cfg: cfg(v1.GrantRule{Name: "arns", Namespaces: v1.RuleNamespaces{Names: []string{"team-a"}},
			Principals: v1.RulePrincipals{ARNs: []v1.Pattern{"arn:aws:iam::" + home + ":role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Ops_*"}}}),
			req: set("team-a", "Ops", "", ssoRole(home, "Ops")), allowed: true},
		{name: "a rule with principals but no permission sets", cfg: cfg(teamRule), req: set("team-a", "team-a-readers", "", ""),
			says: "names no permission sets"},
	}
	for _, tc := range cases {
		v := Judge(tc.cfg, tc.req)
		if v.Allowed() != tc.allowed || !strings.Contains(v.Message(), tc.says) {
			t.Errorf("%s: allowed %v, want %v; message %q, want it to say %q", tc.name, v.Allowed(), tc.allowed, v.Message(), tc.says)
		}
		// Whether the operator may look the set up: the same answer, for
		// requests that ask for nothing else.
		if got := MayName(tc.cfg, tc.req); got != tc.allowed && tc.req.Reserved == "" {
			t.Errorf("%s: MayName = %v, want %v", tc.name, got, tc.allowed)
		}
	}
}
