package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// round changes groups out of band, then restarts the operator with every
// entry due a verification and a background budget of --round-qps, and measures
// the round: how long, how many calls, when the changed groups were put back, and
// how long a spec change made meanwhile takes to be Ready.
func (b *bench) round(ctx context.Context) error {
	say("verification round: %d group changes out of band, then every entry due, background budget %.1f/s", b.o.heals, b.o.roundQPS)
	eksAdmin := adminClient(b.emu)
	var changed []*v1.AccessEntry
	for _, i := range b.rng.Perm(len(b.entries)) {
		if ae := b.entries[i]; ae.Spec.Type == v1.TypeStandard && len(changed) < b.o.heals {
			changed = append(changed, ae)
		}
	}
	for _, ae := range changed {
		if _, err := eksAdmin.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(ae.Spec.PrincipalARN),
			KubernetesGroups: []string{"out-of-band"}}); err != nil {
			return err
		}
	}
	b.w.StopOperator()
	b.emu.ResetCalls()
	start := time.Now()
	if err := b.w.StartOperator("--verification-period=2s", "--background-qps="+strconv.FormatFloat(b.o.roundQPS, 'f', -1, 64)); err != nil {
		return err
	}
	healed := map[string]bool{}
	var specChange *v1.AccessEntry
	specDone := make(chan error, 1)
	var (
		listed        time.Time
		verified, all = 0, -1
	)
	for {
		for _, ae := range changed {
			if e, ok := entryOf(b.emu, account, cluster, ae.Spec.PrincipalARN); !healed[ae.Name] && ok && !slices.Contains(e.KubernetesGroups, "out-of-band") {
				healed[ae.Name] = true
				b.res.Heals.GroupChange = append(b.res.Heals.GroupChange, time.Since(start).Seconds())
			}
		}
		if specChange == nil && time.Since(start) > 5*time.Second {
			specChange = b.entries[slices.IndexFunc(b.entries, func(ae *v1.AccessEntry) bool { return ae.Spec.Type == v1.TypeStandard })]
			go func() { specDone <- b.specChange(ctx, specChange) }()
		}
		if time.Since(listed) >= listPoll {
			listed = time.Now()
			list := &v1.AccessEntryList{}
			if err := b.k8s.List(ctx, list, client.InNamespace(namespace)); err != nil {
				return err
			}
			verified, all = 0, len(list.Items)
			for _, ae := range list.Items {
				if at := ae.Status.LastVerifiedAt; at != nil && !at.Time.Before(start.Truncate(time.Second)) {
					verified++
				}
			}
		}
		if verified == all && len(healed) == len(changed) && specChange != nil {
			break
		}
		if time.Since(start) > b.timeout+time.Duration(float64(3*b.o.entries)/b.o.roundQPS)*time.Second {
			return fmt.Errorf("the verification round did not end: %d of %d verified, %d of %d group changes put back", verified, all, len(healed), len(changed))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err := <-specDone; err != nil {
		return err
	}
	p := phase(b.emu, time.Since(start))
	b.res.Round.BackgroundQPS, b.res.Round.Seconds = b.o.roundQPS, p.Seconds
	b.res.Round.Reads = p.Calls["DescribeAccessEntry"] + p.Calls["ListAssociatedAccessPolicies"]
	b.res.Round.Sweeps = p.Calls["ListAccessEntries"]
	sweepRate := float64(b.res.Quiet.Total) / math.Max(b.res.Quiet.Seconds, 1)
	b.res.Round.ProjectedSeconds = float64(b.res.Round.Reads) / b.o.background()
	b.res.SteadyCallsPerSecond = sweepRate + float64(b.res.Round.Reads)/b.o.verifyPeriod.Seconds()
	say("round: %d reads in %.0fs; the spec change was Ready in %.2fs", b.res.Round.Reads, p.Seconds, b.res.Round.SpecChangeSeconds)
	// Back to the operator's defaults for the waves.
	b.w.StopOperator()
	return b.w.StartOperator()
}

// specChange adds a group to one entry and waits until it is Ready at the new generation.
func (b *bench) specChange(ctx context.Context, ae *v1.AccessEntry) error {
	cur := &v1.AccessEntry{}
	if err := b.k8s.Get(ctx, client.ObjectKeyFromObject(ae), cur); err != nil {
		return err
	}
	cur.Spec.KubernetesGroups = append(cur.Spec.KubernetesGroups, "during-the-round")
	start := time.Now()
	if err := b.k8s.Update(ctx, cur); err != nil {
		return err
	}
	// One object read every 50ms: listing them all that often would load the
	// API server more than the operator at 10,000 entries.
	only := map[string]bool{ae.Name: true}
	for time.Since(start) < time.Minute {
		if err := b.k8s.Get(ctx, client.ObjectKeyFromObject(ae), cur); err != nil {
			return err
		}
		if countReady([]v1.AccessEntry{*cur}, only) == 1 {
			b.res.Round.SpecChangeSeconds = time.Since(start).Seconds()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s was not Ready within a minute of its spec change", ae.Name)
}
