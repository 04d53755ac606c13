package main

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// updateWave adds a group to a tenth of the STANDARD entries and waits until
// they are Ready at their new generation.
func (b *bench) updateWave(ctx context.Context) error {
	say("update wave: new groups on 10%% of the STANDARD entries")
	var wave []*v1.AccessEntry
	for i, ae := range b.entries {
		if ae.Spec.Type == v1.TypeStandard && i%10 == 0 {
			wave = append(wave, ae)
		}
	}
	b.emu.ResetCalls()
	start := time.Now()
	if err := parallel(wave, func(ae *v1.AccessEntry) error {
		cur := &v1.AccessEntry{}
		if err := b.k8s.Get(ctx, client.ObjectKeyFromObject(ae), cur); err != nil {
			return err
		}
		cur.Spec.KubernetesGroups = append(cur.Spec.KubernetesGroups, "wave")
		return b.k8s.Update(ctx, cur)
	}); err != nil {
		return err
	}
	inWave := map[string]bool{}
	for _, ae := range wave {
		inWave[ae.Name] = true
	}
	if _, err := waitFor(ctx, b.k8s, b.timeout, func(list []v1.AccessEntry) (int, bool) {
		n := countReady(list, inWave)
		return n, n == len(wave)
	}); err != nil {
		return err
	}
	b.res.UpdateWave = phase(b.emu, time.Since(start))
	return nil
}

// deleteWave deletes a tenth of the entries, waits until the objects are gone,
// and checks that EKS no longer holds their entries.
func (b *bench) deleteWave(ctx context.Context) error {
	say("delete wave: deleting 10%% of the entries")
	var doomed []*v1.AccessEntry
	for i, ae := range b.entries {
		if i%10 == 5 {
			doomed = append(doomed, ae)
		}
	}
	b.emu.ResetCalls()
	start := time.Now()
	if err := parallel(doomed, func(ae *v1.AccessEntry) error { return b.k8s.Delete(ctx, ae) }); err != nil {
		return err
	}
	if _, err := waitFor(ctx, b.k8s, b.timeout, func(list []v1.AccessEntry) (int, bool) {
		return len(list), len(list) == b.o.entries-len(doomed)
	}); err != nil {
		return err
	}
	b.res.DeleteWave = phase(b.emu, time.Since(start))
	if left := len(b.emu.Entries(account, region, cluster)); left != b.o.entries-len(doomed) {
		return fmt.Errorf("after the delete wave EKS holds %d entries, want %d", left, b.o.entries-len(doomed))
	}
	return nil
}
