package guardrails

import (
	"strings"
	"testing"
	"time"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

func TestPlacesOf(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ns, name string, s int) Standing {
		return Standing{Namespace: ns, Name: name, Created: t0.Add(time.Duration(s) * time.Second)}
	}
	// team-a made four, then team-b one; the limit per namespace is 2.
	all := []Standing{at("team-b", "b1", 9), at("team-a", "a3", 3), at("team-a", "a1", 1), at("team-a", "a2", 2), at("team-a", "a4", 4)}
	limit := func(string) int { return 2 }
	cases := []struct {
		ns, name string
		want     Places
	}{
		{"team-a", "a1", Places{1, 1}},
		{"team-a", "a2", Places{2, 2}},
		{"team-a", "a3", Places{3, 0}}, // past its namespace's limit: takes no tenant room
		{"team-a", "a4", Places{4, 0}},
		{"team-b", "b1", Places{1, 3}}, // team-a's surplus does not push it back
		{"team-b", "gone", Places{}},
	}
	for _, c := range cases {
		if got := PlacesOf(append([]Standing(nil), all...), c.ns, c.name, limit); got != c.want {
			t.Errorf("%s/%s: %+v, want %+v", c.ns, c.name, got, c.want)
		}
	}
	// An older object moved onto the cluster does not take the place of an
	// entry in use: holders come first.
	moved := []Standing{at("team-b", "b1", 9), at("team-a", "old", 0)}
	moved[0].Holds = true
	if got := PlacesOf(moved, "team-b", "b1", func(string) int { return 1 }); got != (Places{1, 1}) {
		t.Errorf("a holder behind an older newcomer: %+v", got)
	}
	// The same age: by namespace, then name.
	tie := []Standing{at("b", "x", 0), at("a", "y", 0)}
	if got := PlacesOf(tie, "b", "x", limit); got != (Places{1, 2}) {
		t.Errorf("a tie: %+v", got)
	}
}

func TestJudgeLimits(t *testing.T) {
	r := teamRule
	r.MaxEntriesPerNamespace = 2
	c := cfg(r)
	c.MaxTenantEntries = 3
	cases := []struct {
		name    string
		places  Places
		allowed bool
		want    string
	}{
		{"within both", Places{2, 3}, true, ""},
		{"past the namespace's limit", Places{3, 0}, false, "number 3 of namespace team-a's on the cluster, and rule teams allows 2 (maxEntriesPerNamespace)"},
		{"past the tenants' room", Places{1, 4}, false, "spec.guardrails.maxTenantEntries (3)"},
		{"not counted", Places{}, true, ""},
	}
	for _, tc := range cases {
		v := Judge(c, req(func(q *Request) { q.Places = tc.places }))
		if v.Allowed() != tc.allowed || (!tc.allowed && v.EntryAllowed) {
			t.Errorf("%s: allowed %v, entry allowed %v: %s", tc.name, v.Allowed(), v.EntryAllowed, v.Message())
		}
		if tc.want != "" && !strings.Contains(v.Message(), tc.want) {
			t.Errorf("%s: message %q does not say %q", tc.name, v.Message(), tc.want)
		}
	}
	// A rule that sets none allows 25.
	if v := Judge(cfg(teamRule), req(func(q *Request) { q.Places = Places{26, 0} })); v.Allowed() || !strings.Contains(v.Message(), "allows 25") {
		t.Errorf("the default limit: %s", v.Message())
	}
	if n := cfg(teamRule, v1.GrantRule{Name: "more", Namespaces: v1.RuleNamespaces{Names: []string{"team-a"}}, MaxEntriesPerNamespace: 40}).LimitOf("team-a", nil); n != 40 {
		t.Errorf("LimitOf: %d, want the largest of the admitting rules, 40", n)
	}
}
