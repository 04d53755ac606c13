package controllers

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/budget"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// The tests of this file run on an emulator of their own, so that the calls it
// counts are only theirs.

// ownEmulator starts an emulator for one test and returns it with an admin
// client of the operator's account.
func ownEmulator(t *testing.T, cfg eksemulator.Config) (*eksemulator.Server, *eks.Client) {
	t.Helper()
	e, err := eksemulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e, eks.NewFromConfig(awsConfig(), func(o *eks.Options) { o.BaseEndpoint = aws.String(e.URL()) })
}

// onEmulator points a manager's EKS calls at e, with the budget options given.
func onEmulator(e *eksemulator.Server, b budget.Options) func(*AccessEntryReconciler) {
	return func(r *AccessEntryReconciler) { r.AWS = testClients(awsConfig(), e.URL(), &b) }
}

func inShard(shard string, mutate ...func(*v1.AccessEntry)) func(*v1.AccessEntry) {
	return func(ae *v1.AccessEntry) {
		ae.Labels = map[string]string{shardLabel: shard}
		for _, m := range mutate {
			m(ae)
		}
	}
}

// TestDriftTiers: each tier finds what it is for, with the calls it makes
// counted. Sweeps (every second here) find a deleted entry and an admin policy
// granted out of band by listing, without reading any entry that did not change;
// a group changed out of band is invisible to them, and found by the full
// verification of the entry. A restart with every entry verified re-reads none.
func TestDriftTiers(t *testing.T) {
	testenv.RequireControlPlane(t)
	const shard, cluster = "tiers", "tiers"
	e, eksAdmin := ownEmulator(t, eksemulator.Config{Clusters: []eksemulator.ClusterConfig{{Name: cluster, Account: account, Region: region, AuthenticationMode: "API"}}, Seed: 1})
	opts := budget.Options{QPS: 20, Burst: 20, BackgroundQPS: 10}
	mgr := testManager{selector: shardLabel + "=" + shard, resync: time.Hour, sweep: time.Second,
		watched: []string{"AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy"}, tune: []func(*AccessEntryReconciler){onEmulator(e, opts)}}
	// One manager at a time; the last one stops after the objects are gone.
	var stopCurrent func()
	t.Cleanup(func() { stopCurrent() })
	restart := func(t *testing.T, tm testManager) {
		t.Helper()
		if stopCurrent != nil {
			stopCurrent()
		}
		stop, err := tm.start()
		if err != nil {
			t.Fatal(err)
		}
		stopCurrent = stop
	}
	restart(t, mgr)
	ctx := context.Background()
	var objs []*v1.AccessEntry
	for i := range 8 {
		ae := entry(fmt.Sprintf("tier-%d", i), roleARN(fmt.Sprintf("tier-%d", i)), inShard(shard, func(ae *v1.AccessEntry) {
			ae.Spec.ClusterName = cluster
			ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"readers"}
			ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)}
		}))
		create(t, ae)
		objs = append(objs, ae)
	}
	for _, ae := range objs {
		waitReady(t, ae, 30*time.Second)
	}
	time.Sleep(1500 * time.Millisecond) // the sweeps leave entries verified within the last second alone
	// grantAdmin grants the cluster-admin policy out of band; waitAdminTakenBack
	// waits until the operator has taken it back, leaving the view policy alone.
	grantAdmin := func(t *testing.T, principal string) {
		t.Helper()
		if _, err := eksAdmin.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal),
			PolicyArn: aws.String(adminPolicy), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster}}); err != nil {
			t.Fatal(err)
		}
	}
	waitAdminTakenBack := func(t *testing.T, principal string) {
		t.Helper()
		eventually(t, 10*time.Second, "the admin policy granted out of band to be taken back", func() (bool, string) {
			en, _ := holdingOf(e, account, cluster, principal)
			return fmt.Sprint(policiesOf(en)) == fmt.Sprint(map[string]string{viewPolicy: "cluster:"}), fmt.Sprint(policiesOf(en))
		})
	}

	t.Run("a sweep finds a deletion", func(t *testing.T) {
		principal := objs[0].Spec.PrincipalARN
		e.ResetCalls()
		if _, err := eksAdmin.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal)}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "the deleted entry to be back with its policy", func() (bool, string) {
			en, ok := holdingOf(e, account, cluster, principal)
			return ok && len(en.Policies) == 1, fmt.Sprintf("%+v", en)
		})
		c := e.CallsOf(account)
		t.Logf("calls to find and heal one deletion among %d entries: %v", len(objs), c)
		if c["ListAccessEntries"] == 0 || c["DescribeAccessEntry"] > 2 || c["ListAssociatedAccessPolicies"] > 2 {
			t.Errorf("calls %v: want the deletion found by listing, and only the deleted entry read", c)
		}
	})

	t.Run("a watched-policy sweep finds an escalation", func(t *testing.T) {
		principal := objs[1].Spec.PrincipalARN
		time.Sleep(1500 * time.Millisecond)
		e.ResetCalls()
		grantAdmin(t, principal)
		waitAdminTakenBack(t, principal)
		c := e.CallsOf(account)
		t.Logf("calls to find and heal one escalation among %d entries: %v", len(objs), c)
		if c["DisassociateAccessPolicy"] != 1 || c["DescribeAccessEntry"] > 2 || c["ListAssociatedAccessPolicies"] > 2 {
			t.Errorf("calls %v: want the escalation found by listing, and only the escalated entry read", c)
		}
	})

	t.Run("sweeps do not see a group change; verification does", func(t *testing.T) {
		principal := objs[2].Spec.PrincipalARN
		if _, err := eksAdmin.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal), KubernetesGroups: []string{"admins"}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second) // three sweeps
		if en, _ := holdingOf(e, account, cluster, principal); !slices.Equal(en.KubernetesGroups, []string{"admins"}) {
			t.Fatalf("groups %v: a sweep must not read entries, only list them", en.KubernetesGroups)
		}
		verifying := mgr
		verifying.resync = 2 * time.Second // every entry due now
		stopCurrent()
		stopCurrent = nil
		e.ResetCalls()
		restart(t, verifying)
		eventually(t, 15*time.Second, "the group changed out of band to be put back", func() (bool, string) {
			en, _ := holdingOf(e, account, cluster, principal)
			return slices.Equal(en.KubernetesGroups, []string{"readers"}), fmt.Sprint(en.KubernetesGroups)
		})
		c := e.CallsOf(account)
		t.Logf("calls of the verification that found it: %v", c)
		if c["DescribeAccessEntry"] == 0 || c["UpdateAccessEntry"] != 1 {
			t.Errorf("calls %v: want entries read in full and one update", c)
		}
		// The status patch ends the pass, a moment after EKS holds the change.
		eventually(t, 10*time.Second, "status.lastVerifiedAt to record the verification", func() (bool, string) {
			got := get(t, client.ObjectKeyFromObject(objs[2]))
			at := got.Status.LastVerifiedAt
			return at != nil && time.Since(at.Time) < 10*time.Second, fmt.Sprint(at)
		})
	})

	t.Run("a restart with every entry verified reads none again", func(t *testing.T) {
		for _, ae := range objs {
			waitReady(t, ae, 30*time.Second)
		}
		stopCurrent()
		stopCurrent = nil
		e.ResetCalls()
		restart(t, mgr) // verification period an hour: nothing is due
		time.Sleep(4 * time.Second)
		c := e.CallsOf(account)
		t.Logf("calls in the first 4s after a restart with %d Ready entries: %v", len(objs), c)
		if c["DescribeAccessEntry"] != 0 || c["ListAssociatedAccessPolicies"] != 0 {
			t.Errorf("calls %v: a restart read entries again", c)
		}
	})

	t.Run("each listing keeps its own period", func(t *testing.T) {
		// All entries listed every hour, the holders of the watched policies every second.
		twoPeriods := mgr
		twoPeriods.sweep, twoPeriods.watchedSweep = time.Hour, time.Second
		stopCurrent()
		stopCurrent = nil
		restart(t, twoPeriods)
		time.Sleep(2 * time.Second) // the first listings of both kinds, made at once
		deleted, escalated := objs[3].Spec.PrincipalARN, objs[4].Spec.PrincipalARN
		e.ResetCalls()
		if _, err := eksAdmin.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(deleted)}); err != nil {
			t.Fatal(err)
		}
		grantAdmin(t, escalated)
		waitAdminTakenBack(t, escalated)
		time.Sleep(3 * time.Second) // three more watched listings
		if _, ok := holdingOf(e, account, cluster, deleted); ok {
			t.Fatal("the deleted entry is back: the full listing ran on the watched listings' period")
		}
		c := e.CallsOf(account)
		t.Logf("calls with the full listing hourly and the watched one each second: %v", c)
		// At least one listing of each watched policy; no full listing.
		if c["ListAccessEntries"] < 2 || c["CreateAccessEntry"] != 0 {
			t.Errorf("calls %v: want the watched listings made every second, and the deletion not yet found", c)
		}
		// Back to one period: the first full listing finds the deletion.
		stopCurrent()
		stopCurrent = nil
		restart(t, mgr)
		eventually(t, 10*time.Second, "the deleted entry to be back", func() (bool, string) {
			_, ok := holdingOf(e, account, cluster, deleted)
			return ok, ""
		})
	})
}

// TestSweepSurvivesThrottling: a listing of several pages that EKS throttles
// asks for the throttled pages again, in its turn in the slowed budget, and
// still finds a deletion; a sweep given up at the first 429 would leave it
// unseen for the whole sweep period (an hour here).
func TestSweepSurvivesThrottling(t *testing.T) {
	testenv.RequireControlPlane(t)
	const shard, cluster = "throttled-sweep", "throttled-sweep"
	e, eksAdmin := ownEmulator(t, eksemulator.Config{Clusters: []eksemulator.ClusterConfig{{Name: cluster, Account: account, Region: region, AuthenticationMode: "API"}}, Seed: 1})
	ctx := context.Background()
	// 350 entries no object declares: a listing of four pages.
	for i := range 350 {
		if _, err := eksAdmin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(cluster),
			PrincipalArn: aws.String(roleARN(fmt.Sprintf("unmanaged-%03d", i)))}); err != nil {
			t.Fatal(err)
		}
	}
	tm := testManager{selector: shardLabel + "=" + shard, resync: time.Hour, sweep: time.Hour,
		tune: []func(*AccessEntryReconciler){onEmulator(e, budget.Options{QPS: 20, Burst: 20, BackgroundQPS: 2})}}
	stop, err := tm.start()
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the objects' own cleanup, so that it runs after it: the
	// manager releases their finalizers.
	t.Cleanup(func() { stop() })
	var objs []*v1.AccessEntry
	for i := range 3 {
		ae := entry(fmt.Sprintf("throttled-%d", i), roleARN(fmt.Sprintf("throttled-%d", i)), inShard(shard, func(ae *v1.AccessEntry) {
			ae.Spec.ClusterName = cluster
		}))
		create(t, ae)
		objs = append(objs, ae)
	}
	for _, ae := range objs {
		waitReady(t, ae, 30*time.Second)
	}
	stop()
	time.Sleep(1500 * time.Millisecond) // the sweeps leave entries verified within the last second alone
	deleted := objs[1].Spec.PrincipalARN
	if _, err := eksAdmin.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(deleted)}); err != nil {
		t.Fatal(err)
	}
	// EKS throttles every call of the account for the first 2 seconds after the
	// restart: the first sweep's pages are refused.
	e.SetFaults(eksemulator.Faults{Throttled: []string{account}})
	e.ResetCalls()
	stop, err = tm.start() // the first sweep at once, the next in an hour
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	e.SetFaults(eksemulator.Faults{})
	eventually(t, 20*time.Second, "the deleted entry to be back", func() (bool, string) {
		_, ok := holdingOf(e, account, cluster, deleted)
		return ok, fmt.Sprint(e.CallsOf(account))
	})
	c := e.CallsOf(account)
	t.Logf("calls of a throttled sweep of %d entries that found one deletion: %v", 352, c)
	// The emulator counts the calls it served: the four pages once each.
	if c["ListAccessEntries"] != 4 || c["CreateAccessEntry"] != 1 {
		t.Errorf("calls %v: want the four pages listed and the one entry created again", c)
	}
}

// TestForegroundBeforeBackground: with verification due for every entry all the
// time (a verification period of a second) and the background budget full, a
// new AccessEntry is still Ready in about the time of its own calls, and
// verification spends no more than its share.
func TestForegroundBeforeBackground(t *testing.T) {
	testenv.RequireControlPlane(t)
	const shard, cluster = "budget", "busy"
	e, _ := ownEmulator(t, eksemulator.Config{Clusters: []eksemulator.ClusterConfig{{Name: cluster, Account: account, Region: region, AuthenticationMode: "API"}}, Seed: 1})
	stop, err := testManager{selector: shardLabel + "=" + shard, resync: time.Second,
		tune: []func(*AccessEntryReconciler){onEmulator(e, budget.Options{QPS: 6, Burst: 6, BackgroundQPS: 2})}}.start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	for i := range 12 {
		ae := entry(fmt.Sprintf("busy-%d", i), roleARN(fmt.Sprintf("busy-%d", i)), inShard(shard, func(ae *v1.AccessEntry) {
			ae.Spec.ClusterName = cluster
			ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)}
		}))
		create(t, ae)
		waitReady(t, ae, 30*time.Second)
	}
	time.Sleep(3 * time.Second) // verification of all twelve is now always due
	e.ResetCalls()
	const window = 5 * time.Second
	time.Sleep(window)
	c := e.CallsOf(account)
	background := c["DescribeAccessEntry"] + c["ListAssociatedAccessPolicies"]
	t.Logf("background calls in %s: %v", window, c)
	if background == 0 || float64(background) > 2*window.Seconds()+4 {
		t.Errorf("%d verification calls in %s: want some, and at most the background budget of 2/s (plus its burst)", background, window)
	}

	start := time.Now()
	ae := entry("urgent", roleARN("urgent"), inShard(shard, func(ae *v1.AccessEntry) {
		ae.Spec.ClusterName = cluster
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy)}
	}))
	create(t, ae)
	waitReady(t, ae, 30*time.Second)
	took := time.Since(start)
	t.Logf("a new entry (2 calls) was Ready in %s while verification used its whole budget", took)
	if took > 3*time.Second {
		t.Errorf("a new entry took %s to be Ready behind background verification; want about the time of its own 2 calls", took)
	}
}

// TestAccountsDoNotWaitForEachOther: two accounts, one in a throttling storm (EKS
// answers its every call with 429). The other converges at its own rate, its
// calls counted apart; the throttled account's objects say why they wait, and
// converge once the storm ends.
func TestAccountsDoNotWaitForEachOther(t *testing.T) {
	testenv.RequireControlPlane(t)
	const shard, calm, stormy = "budget", "calm", "stormy"
	role := "arn:aws:iam::" + remoteAccount + ":role/eks-access-operator"
	e, _ := ownEmulator(t, eksemulator.Config{Clusters: []eksemulator.ClusterConfig{
		{Name: calm, Account: account, Region: region, AuthenticationMode: "API"},
		{Name: stormy, Account: remoteAccount, Region: region, AuthenticationMode: "API"},
	}, RateLimit: 10, Burst: 10, Seed: 1})
	stop, err := testManager{selector: shardLabel + "=" + shard, resync: time.Hour, clusterConfigs: true, name: "budget-configs",
		tune: []func(*AccessEntryReconciler){onEmulator(e, budget.Options{QPS: 10, Burst: 10})}}.start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	ctx := context.Background()
	cac := &v1.ClusterAccessConfig{}
	cac.Name, cac.Labels = "stormy", map[string]string{shardLabel: shard}
	cac.Spec = v1.ClusterAccessConfigSpec{ClusterName: stormy, RoleARN: role}
	if err := k8s.Create(ctx, cac); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { releaseConfig(t, cac.Name) })
	waitConfig(t, cac.Name, 30*time.Second, "to read the cluster", func(c *v1.ClusterAccessConfig) bool { return configReady(c) })

	e.SetFaults(eksemulator.Faults{RateLimit: 10, Burst: 10, Throttled: []string{remoteAccount}})
	e.ResetCalls()
	const n = 20
	var calmObjs, stormyObjs []*v1.AccessEntry
	start := time.Now()
	for i := range n {
		for _, c := range []struct {
			cluster string
			objs    *[]*v1.AccessEntry
		}{{stormy, &stormyObjs}, {calm, &calmObjs}} {
			ae := entry(fmt.Sprintf("%s-%d", c.cluster, i), roleARN(fmt.Sprintf("%s-%d", c.cluster, i)), inShard(shard, func(ae *v1.AccessEntry) {
				ae.Spec.ClusterName = c.cluster
				ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)}
			}))
			create(t, ae)
			*c.objs = append(*c.objs, ae)
		}
	}
	// The calm account's floor: 2 calls an entry at 10/s after a burst of 10.
	floor := time.Duration(float64(2*n-10)/10*float64(time.Second)) + time.Second
	for _, ae := range calmObjs {
		waitReady(t, ae, 30*time.Second)
	}
	took := time.Since(start)
	c := e.CallsOf(account)
	t.Logf("calm account: %d entries Ready in %s (floor %s) while the other was throttled; its calls %v; the throttled account's answered calls %v",
		n, took, floor, c, e.CallsOf(remoteAccount))
	if c["CreateAccessEntry"] != n || c["AssociateAccessPolicy"] != n {
		t.Errorf("calm account calls %v: want %d creates and %d associations", c, n, n)
	}
	if took > 2*floor+3*time.Second {
		t.Errorf("the calm account took %s, more than twice its own floor %s: it waited for the throttled one", took, floor)
	}
	for _, ae := range stormyObjs[:3] {
		got := get(t, client.ObjectKeyFromObject(ae))
		r := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady)
		if r == nil || (r.Reason != v1.ReasonThrottled && r.Reason != v1.ReasonRateLimited) {
			t.Errorf("%s in the throttled account: %s, want Throttled or RateLimited", ae.Name, conditions(got))
		}
	}

	e.SetFaults(eksemulator.Faults{RateLimit: 10, Burst: 10})
	for _, ae := range stormyObjs {
		waitReady(t, ae, 60*time.Second)
	}
}
