package main

import (
	"context"
	"math"
	"time"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// converge creates every entry at once and waits until all are Ready, counting
// the EKS calls against the floor the rate limit sets.
func (b *bench) converge(ctx context.Context) error {
	say("creating %d AccessEntries (%d STANDARD with %d policies); the floor is %d calls, %.0fs at %.0f/s",
		b.o.entries, b.res.Standard, b.res.Policies, b.res.FloorCalls, b.res.FloorSeconds, b.o.rate)
	b.emu.ResetCalls()
	start := time.Now()
	if err := parallel(b.entries, func(ae *v1.AccessEntry) error { return b.k8s.Create(ctx, ae) }); err != nil {
		return err
	}
	stalled, err := waitFor(ctx, b.k8s, b.timeout, func(list []v1.AccessEntry) (int, bool) {
		n := countReady(list, nil)
		return n, n == b.o.entries
	})
	b.res.Stalled = stalled
	if err != nil {
		return err
	}
	b.res.Converge = phase(b.emu, time.Since(start))
	b.res.Ratio = b.res.Converge.Seconds / math.Max(b.res.FloorSeconds, 0.001)
	b.res.CallRatio = float64(b.res.Converge.Total) / float64(max(b.res.FloorCalls, 1))
	say("converged in %.1fs, %d calls", b.res.Converge.Seconds, b.res.Converge.Total)
	return nil
}
