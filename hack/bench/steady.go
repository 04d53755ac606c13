package main

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
)

// restart restarts the operator with every entry Ready and verified, and counts
// its calls over the first sweep period (the shorter of the two listings').
func (b *bench) restart(context.Context) error {
	b.res.OneSweep = oneSweep(b.emu, account, cluster, watchedPolicies)
	say("restarting the operator with %d Ready entries; one sweep is %d calls", b.o.entries, b.res.OneSweep)
	b.w.StopOperator()
	b.emu.ResetCalls()
	start := time.Now()
	if err := b.w.StartOperator(); err != nil {
		return err
	}
	time.Sleep(min(b.o.sweepPeriod, b.o.watchedSweepPeriod()) * 9 / 10)
	b.res.Restart = phase(b.emu, time.Since(start))
	return nil
}

// quiet measures steady state: nothing changes, nothing is due but the sweeps.
func (b *bench) quiet(context.Context) error {
	say("steady state: %s with nothing changed", b.o.steady)
	b.emu.ResetCalls()
	start := time.Now()
	time.Sleep(b.o.steady)
	b.res.Quiet = phase(b.emu, time.Since(start))
	return nil
}

var watchedPolicies = []string{"AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy"}

// oneSweep is how many calls one sweep of a cluster makes: its entries listed,
// then the holders of each watched policy, 100 a page.
func oneSweep(emu *eksemulator.Server, acct, cl string, watched []string) int {
	entries := emu.Entries(acct, region, cl)
	pages := func(n int) int { return max(1, (n+99)/100) }
	calls := pages(len(entries))
	for _, name := range watched {
		holders := 0
		for _, e := range entries {
			if slices.ContainsFunc(e.Policies, func(p eksemulator.Policy) bool { return strings.HasSuffix(p.PolicyARN, "/"+name) }) {
				holders++
			}
		}
		calls += pages(holders)
	}
	return calls
}
