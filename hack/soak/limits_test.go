package main

import "testing"

// The soak judges a namespace's entries against the limit the operator applies:
// the largest of the rules that admit it. The probe's namespace has a rule of
// its own (room for every probe object), which the tenants' tight limit does
// not bound; a run once reported the probe over the tenants' limit.
func TestLimitOfIsTheOperators(t *testing.T) {
	m := &model{rules: map[string]string{clusters[0]: "tight"}, feat: features{limits: true}}
	for _, c := range []struct {
		ns   string
		want int
	}{
		{probeNS, 1000},
		{tenants[0], 10},
		{requestNS, 25},
	} {
		if got := m.limitOf(c.ns, clusters[0]); got != c.want {
			t.Errorf("limitOf(%s) = %d, want %d", c.ns, got, c.want)
		}
	}
	if got := (&model{rules: map[string]string{clusters[0]: "tight"}}).limitOf(tenants[0], clusters[0]); got != 25 {
		t.Errorf("without the limits feature the tenants' rule carries no limit: %d, want the default 25", got)
	}
}
