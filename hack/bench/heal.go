package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
)

// heal deletes entries and grants the cluster-admin policy out of band, each
// at a random moment, and measures how long each takes to be put back.
func (b *bench) heal(ctx context.Context) error {
	say("out-of-band changes: %d deletions and %d admin-policy grants at random moments", b.o.heals, b.o.heals)
	eksAdmin := adminClient(b.emu)
	admin := "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
	perm := b.rng.Perm(len(b.entries))
	var deletions, grants []*v1.AccessEntry
	for _, i := range perm {
		ae := b.entries[i]
		switch {
		case len(deletions) < b.o.heals:
			deletions = append(deletions, ae)
		case len(grants) < b.o.heals && ae.Spec.Type == v1.TypeStandard && !holdsPolicy(ae, admin):
			grants = append(grants, ae)
		}
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		spread = b.o.sweepPeriod
	)
	watch := func(ae *v1.AccessEntry, change func() error, healed func(eksemulator.Entry, bool) bool, into *[]float64) {
		defer wg.Done()
		time.Sleep(time.Duration(b.rng.Int64N(int64(spread))))
		if err := change(); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			return
		}
		at := time.Now()
		for time.Since(at) < 10*time.Minute {
			e, ok := entryOf(b.emu, account, cluster, ae.Spec.PrincipalARN)
			if healed(e, ok) {
				mu.Lock()
				*into = append(*into, time.Since(at).Seconds())
				mu.Unlock()
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		mu.Lock()
		errs = append(errs, fmt.Errorf("%s was not put back within 10 minutes", ae.Name))
		mu.Unlock()
	}
	for _, ae := range deletions {
		wg.Add(1)
		go watch(ae, func() error {
			_, err := eksAdmin.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(ae.Spec.PrincipalARN)})
			return err
		}, func(_ eksemulator.Entry, ok bool) bool { return ok }, &b.res.Heals.Deletion)
	}
	for _, ae := range grants {
		wg.Add(1)
		go watch(ae, func() error {
			_, err := eksAdmin.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(ae.Spec.PrincipalARN),
				PolicyArn: aws.String(admin), AccessScope: &ekstypes.AccessScope{Type: ekstypes.AccessScopeTypeCluster}})
			return err
		}, func(e eksemulator.Entry, ok bool) bool {
			return ok && !slices.ContainsFunc(e.Policies, func(p eksemulator.Policy) bool { return p.PolicyARN == admin })
		}, &b.res.Heals.AdminGrant)
	}
	wg.Wait()
	return errors.Join(errs...)
}

func holdsPolicy(ae *v1.AccessEntry, arn string) bool {
	return slices.ContainsFunc(ae.Spec.AccessPolicies, func(p v1.AccessPolicy) bool { return p.PolicyARN == arn })
}
