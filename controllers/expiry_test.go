package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/budget"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// in is a time d from now, as the API server keeps it (whole seconds).
func in(d time.Duration) *metav1.Time {
	t := metav1.NewTime(time.Now().Add(d).Truncate(time.Second))
	return &t
}

// waitExpired waits until the object is Ready with reason Expired and returns it.
func waitExpired(t *testing.T, ae *v1.AccessEntry, timeout time.Duration) *v1.AccessEntry {
	t.Helper()
	key := client.ObjectKeyFromObject(ae)
	var cur *v1.AccessEntry
	eventually(t, timeout, key.String()+" to be Ready=True Expired", func() (bool, string) {
		cur = get(t, key)
		c := meta.FindStatusCondition(cur.Status.Conditions, v1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == v1.ReasonExpired && cur.Status.ObservedGeneration == cur.Generation, conditions(cur)
	})
	return cur
}

// revokedAfter is how long after its expiry the object's grant was revoked, as
// its Ready condition's transition to Expired says.
func revokedAfter(ae *v1.AccessEntry) time.Duration {
	return meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReady).LastTransitionTime.Sub(ae.Spec.ExpiresAt.Time)
}

func TestExpiry(t *testing.T) {
	testenv.RequireControlPlane(t)

	t.Run("the entry is deleted at expiry, whatever deletionPolicy says, with one delete; the object stays, healthy", func(t *testing.T) {
		principal := roleARN("expiring")
		ae := entry("expiring", principal, func(ae *v1.AccessEntry) {
			ae.Spec.DeletionPolicy = v1.DeletionPolicyRetain
			ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(adminPolicy)}
			ae.Spec.ExpiresAt = in(8 * time.Second)
		})
		create(t, ae)
		waitReady(t, ae, 30*time.Second)
		mustEmuEntry(t, "demo", principal)
		deletes, describes, expired := calls("DeleteAccessEntry"), calls("DescribeAccessEntry"), testutil.ToFloat64(grantsExpired)

		got := waitExpired(t, ae, 40*time.Second)
		if e, ok := emuEntry("demo", principal); ok {
			t.Fatalf("expired, and EKS still holds the entry: %+v", e)
		}
		// The suite verifies every 10 minutes: only the expiry's own requeue
		// brings the pass this soon.
		if late := revokedAfter(got); late > 10*time.Second || late < 0 {
			t.Errorf("revoked %s after expiry", late)
		}
		if d, r := calls("DeleteAccessEntry")-deletes, calls("DescribeAccessEntry")-describes; d != 1 || r != 0 {
			t.Errorf("expiry made %d deletes and %d reads; want one delete and no read", d, r)
		}
		if n := testutil.ToFloat64(grantsExpired) - expired; n != 1 {
			t.Errorf("eks_access_operator_grants_expired_total grew by %g, want 1", n)
		}
		if got.Status.Identity != nil || got.Status.AccessEntryARN != "" {
			t.Errorf("status still records the entry: %+v", got.Status)
		}
		msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message
		if !strings.Contains(msg, ae.Spec.ExpiresAt.UTC().Format(time.RFC3339)) {
			t.Errorf("Ready's message %q does not say when it expired", msg)
		}
		wantHealth(t, got, kstatus.CurrentStatus, "Healthy")

		t.Run("a later expiresAt grants again, until then", func(t *testing.T) {
			update(t, ae, func(ae *v1.AccessEntry) { ae.Spec.ExpiresAt = in(time.Hour) })
			got := waitReady(t, ae, 30*time.Second)
			if r := readyReason(got); r != v1.ReasonSynced {
				t.Fatalf("Ready for reason %s, want Synced", r)
			}
			wantPolicies(t, mustEmuEntry(t, "demo", principal), map[string]string{adminPolicy: "cluster:"})
		})
	})

	t.Run("an object expired when created makes nothing", func(t *testing.T) {
		principal := roleARN("expired-at-birth")
		creates := calls("CreateAccessEntry")
		ae := entry("expired-at-birth", principal, func(ae *v1.AccessEntry) {
			ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)}
			ae.Spec.ExpiresAt = in(-time.Minute)
		})
		create(t, ae)
		waitExpired(t, ae, 30*time.Second)
		if n := calls("CreateAccessEntry") - creates; n != 0 {
			t.Errorf("%d creates for an object that had expired already", n)
		}
		if _, ok := emuEntry("demo", principal); ok {
			t.Error("EKS holds an entry for an object that had expired already")
		}
	})

	t.Run("expiresAt must be an RFC 3339 time", func(t *testing.T) {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": v1.GroupVersion.String(), "kind": "AccessEntry",
			"metadata": map[string]any{"name": "expires-badly", "namespace": testNS},
			"spec":     map[string]any{"clusterName": "demo", "principalARN": roleARN("expires-badly"), "expiresAt": "next tuesday"},
		}}
		err := k8s.Create(context.Background(), u)
		if err == nil {
			_ = k8s.Delete(context.Background(), u)
			t.Fatal("the API server took expiresAt \"next tuesday\"")
		}
		if !strings.Contains(err.Error(), "spec.expiresAt") {
			t.Errorf("the refusal does not name spec.expiresAt: %v", err)
		}
	})
}

// TestExpiryAcrossRestart: a grant that expires while no operator runs is
// revoked by the next one at its start, within 60 s of its expiry.
func TestExpiryAcrossRestart(t *testing.T) {
	testenv.RequireControlPlane(t)
	const shard = "expiry-restart"
	principal := roleARN("expiry-restart")
	ae := entry("expiry-restart", principal, func(ae *v1.AccessEntry) {
		ae.Labels = map[string]string{shardLabel: shard}
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, "team-a")}
		ae.Spec.ExpiresAt = in(12 * time.Second)
	})
	first := testManager{selector: shardLabel + "=" + shard, resync: time.Hour}
	stop, err := first.start()
	if err != nil {
		t.Fatal(err)
	}
	create(t, ae)
	waitReady(t, ae, 30*time.Second)
	stop()
	time.Sleep(time.Until(ae.Spec.ExpiresAt.Time.Add(2 * time.Second)))
	if _, ok := emuEntry("demo", principal); !ok {
		t.Fatal("the entry went while no operator ran: the test shows nothing")
	}

	first.startFor(t)
	got := waitExpired(t, ae, 60*time.Second)
	if _, ok := emuEntry("demo", principal); ok {
		t.Fatal("expired, and EKS still holds the entry")
	}
	if late := revokedAfter(got); late > 60*time.Second {
		t.Errorf("revoked %s after expiry, want within 60s", late)
	}
	deleteAndWait(t, client.ObjectKeyFromObject(ae)) // while its shard's manager runs
}

// TestExpiryOfAnEntryEKSDoesNotShowYet: an entry EKS created moments ago may
// answer its delete as not found; expired then, it is deleted again once EKS
// shows it, never taken as gone and left behind.
func TestExpiryOfAnEntryEKSDoesNotShowYet(t *testing.T) {
	testenv.RequireControlPlane(t)
	const delay = 6 * time.Second
	emu.SetFaults(eksemulator.Faults{ConsistencyDelay: delay})
	t.Cleanup(func() { emu.SetFaults(eksemulator.Faults{}) })
	principal := roleARN("expiry-unseen")
	ae := entry("expiry-unseen", principal, func(ae *v1.AccessEntry) {
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)}
	})
	create(t, ae)
	eventually(t, 20*time.Second, "the create's answer recorded in status", func() (bool, string) {
		cur := get(t, client.ObjectKeyFromObject(ae))
		return cur.Status.AccessEntryARN != "", conditions(cur)
	})
	created := mustEmuEntry(t, "demo", principal).CreatedAt
	update(t, ae, func(ae *v1.AccessEntry) { ae.Spec.ExpiresAt = in(-time.Minute) })

	waitExpired(t, ae, 40*time.Second)
	time.Sleep(time.Until(created.Add(delay + time.Second)))
	if e, ok := emuEntry("demo", principal); ok {
		t.Fatalf("Expired, and EKS holds the entry now that it shows it: %+v", e)
	}
}

// TestExpiryOfAnAdoptedEntry: an object that adopted an existing entry takes
// away, at its expiry, only what it added: the group, the policy and the tag it
// wrote, and its ownership tags. A scope it narrowed stays narrowed, a group it
// dropped stays dropped (giving them back would grant), and the entry stays,
// no longer the object's.
func TestExpiryOfAnAdoptedEntry(t *testing.T) {
	testenv.RequireControlPlane(t)
	principal := roleARN("expiry-adopted")
	preexisting(t, principal) // groups [handmade], AdminPolicy at cluster scope, tag made-by=hand
	ae := entry("expiry-adopted", principal, func(ae *v1.AccessEntry) {
		ae.Annotations = map[string]string{v1.AdoptAnnotation: "true"}
		ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"handmade", "added"}
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(adminPolicy, "team-a"), policy(viewPolicy)}
		ae.Spec.Tags = map[string]v1.TagValue{"env": "prod"}
		ae.Spec.ExpiresAt = in(12 * time.Second)
	})
	create(t, ae)
	got := waitReady(t, ae, 30*time.Second)
	if a := got.Status.Adopted; a == nil || !slices.Equal(a.KubernetesGroups, []string{"handmade"}) || len(a.AccessPolicies) != 1 {
		t.Fatalf("status.adopted records %+v, want what the entry held before", a)
	}

	got = waitExpired(t, ae, 40*time.Second)
	e, ok := emuEntry("demo", principal)
	if !ok {
		t.Fatal("the adopted entry was deleted at expiry; want it left as it was adopted, less what the object added")
	}
	if !slices.Equal(e.KubernetesGroups, []string{"handmade"}) {
		t.Errorf("groups %v, want [handmade]: the added group taken away, none given back", e.KubernetesGroups)
	}
	wantPolicies(t, e, map[string]string{adminPolicy: "namespace:team-a"})
	if _, owned := ownership.Of(e.Tags); owned || e.Tags["env"] != "" || e.Tags["made-by"] != "hand" {
		t.Errorf("tags %v: want made-by=hand only", e.Tags)
	}
	if got.Status.Adopted != nil || got.Status.AccessEntryARN != "" {
		t.Errorf("status still records the entry: %+v", got.Status)
	}
}

// TestExpiredObjectsDoNotShieldFromPruning: an expired object asks for no entry,
// so an entry of its principal that someone made by hand is unmanaged, and a
// config that prunes deletes it, even when the object is a trusted one.
func TestExpiredObjectsDoNotShieldFromPruning(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	cluster, principal := "expired-shield", roleARN("expired-shield")
	ae := entry("expired-shield", principal, func(ae *v1.AccessEntry) {
		ae.Spec.ClusterName = cluster
		ae.Spec.ExpiresAt = in(-time.Minute)
	})
	create(t, ae)
	waitExpired(t, ae, 30*time.Second)
	if _, err := admin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupEntry(t, cluster, principal) })
	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cluster}, Spec: v1.ClusterAccessConfigSpec{
		ClusterName: cluster, UnmanagedEntries: v1.UnmanagedEntries{Policy: v1.UnmanagedDelete}}}
	createConfig(t, cac)
	waitConfig(t, cac.Name, 30*time.Second, "to prune the entry made by hand", func(c *v1.ClusterAccessConfig) bool {
		return configReady(c) && slices.ContainsFunc(c.Status.UnmanagedEntries, func(u v1.UnmanagedEntry) bool {
			return u.PrincipalARN == principal && u.Action == "Deleted"
		})
	})
	if _, ok := emuEntry(cluster, principal); ok {
		t.Fatal("the entry made by hand is still there")
	}
}

// TestExpiryGoesFirst: an expiry the clock brings is revocation work, ahead of a
// backlog of changes of the same cluster and namespace (the same turn in the
// budget), which at 2 calls a second would hold a change up for half a minute.
func TestExpiryGoesFirst(t *testing.T) {
	testenv.RequireControlPlane(t)
	const shard = "expiry-first"
	// The backlog's objects make entries of the same cluster and namespace;
	// released by hand once the manager has stopped, as deleting them at 2
	// calls a second would take a minute.
	var backlog []*v1.AccessEntry
	t.Cleanup(func() {
		for _, b := range backlog {
			cur := &v1.AccessEntry{}
			if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(b), cur); err == nil {
				cur.Finalizers = nil
				_ = k8s.Update(context.Background(), cur)
				_ = k8s.Delete(context.Background(), cur)
			}
			cleanupEntry(t, "demo", b.Spec.PrincipalARN)
		}
	})
	testManager{selector: shardLabel + "=" + shard, resync: time.Hour,
		tune: []func(*AccessEntryReconciler){onEmulator(emu, budget.Options{QPS: 2, Burst: 2})}}.startFor(t)
	principal := roleARN("expiry-first")
	ae := entry("expiry-first", principal, inShard(shard, func(ae *v1.AccessEntry) { ae.Spec.ExpiresAt = in(15 * time.Second) }))
	create(t, ae)
	waitReady(t, ae, 30*time.Second)
	for i := range 60 {
		b := entry(fmt.Sprintf("expiry-backlog-%d", i), roleARN(fmt.Sprintf("expiry-backlog-%d", i)), inShard(shard))
		if err := k8s.Create(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		backlog = append(backlog, b)
	}
	got := waitExpired(t, ae, 60*time.Second)
	waiting := 0
	for _, b := range backlog {
		if get(t, client.ObjectKeyFromObject(b)).Status.ObservedGeneration == 0 {
			waiting++
		}
	}
	if late := revokedAfter(got); late > 5*time.Second {
		t.Errorf("revoked %s after expiry behind the backlog, want within 5s", late)
	}
	if _, ok := emuEntry("demo", principal); ok {
		t.Error("expired, and EKS still holds the entry")
	}
	if waiting < 10 {
		t.Errorf("only %d of the backlog's objects were still waiting when the grant expired: the test shows nothing", waiting)
	}
}

// TestManyExpiriesOneDeleteEach: grants expiring together wait their turns in
// the account's budget, which turns Ready False (RateLimited) for some; each
// is still revoked with one delete and no read, so they all go at the rate's
// pace.
func TestManyExpiriesOneDeleteEach(t *testing.T) {
	testenv.RequireControlPlane(t)
	const shard, n = "expiry-many", 12
	testManager{selector: shardLabel + "=" + shard, resync: time.Hour,
		tune: []func(*AccessEntryReconciler){onEmulator(emu, budget.Options{QPS: 1, Burst: 1})}}.startFor(t)
	at := in(time.Duration(n)*time.Second + 10*time.Second)
	var grants []*v1.AccessEntry
	for i := range n {
		ae := entry(fmt.Sprintf("expiry-many-%d", i), roleARN(fmt.Sprintf("expiry-many-%d", i)), inShard(shard, func(ae *v1.AccessEntry) { ae.Spec.ExpiresAt = at }))
		create(t, ae)
		grants = append(grants, ae)
	}
	for _, ae := range grants {
		waitReady(t, ae, time.Duration(n)*time.Second+10*time.Second)
	}
	if time.Now().After(at.Time) {
		t.Fatal("the grants expired before they were all made: the test shows nothing")
	}
	deletes, describes := calls("DeleteAccessEntry"), calls("DescribeAccessEntry")
	var waited int
	for _, ae := range grants {
		got := waitExpired(t, ae, time.Until(at.Add(time.Duration(2*n)*time.Second)))
		if revokedAfter(got) > 5*time.Second {
			waited++
		}
	}
	if d, r := calls("DeleteAccessEntry")-deletes, calls("DescribeAccessEntry")-describes; d != n || r != 0 {
		t.Errorf("%d expiries made %d deletes and %d reads; want one delete each and no read", n, d, r)
	}
	if waited == 0 {
		t.Error("no grant waited for its turn: the test shows nothing")
	}
}

// TestExpiredWithRetainedEntriesSaysSo: an object that moved away under Retain
// before its expiry does not say it holds nothing: the entries it retained are
// left behind (for pruning to judge), and its Expired message says how many.
func TestExpiredWithRetainedEntriesSaysSo(t *testing.T) {
	past := metav1.NewTime(time.Now().Add(-time.Minute))
	cases := []struct {
		retained int
		says     string
	}{
		{0, "it holds nothing in EKS"},
		{2, "2 entries it retained earlier (status.retainedEntries) are left behind"},
	}
	for _, c := range cases {
		ae := stepObject("expired", func(ae *v1.AccessEntry) {
			ae.Spec.ExpiresAt = &past
			for i := range c.retained {
				ae.Status.RetainedEntries = append(ae.Status.RetainedEntries, v1.RetainedEntry{ARN: fmt.Sprintf("arn:aws:eks:%s:%s:access-entry/demo/role/%s/old-%d/1", region, account, account, i)})
			}
		})
		w := newStepWorld(t, ae)
		o := outcomeOf(t, w.r.checkExpiry(context.Background(), newEntryPass(ae)))
		if o.reason != v1.ReasonExpired || !strings.Contains(o.message, c.says) {
			t.Errorf("%d retained: %s %q, want Expired saying %q", c.retained, o.reason, o.message, c.says)
		}
	}
}

// TestGiveBackOnlyWhatTheRuleAllows: the red team's finding of 2026-12-06. A
// tenant adopted an entry whose username the platform later revoked, moved its
// object to another allowed username, and let it expire: the give-back sent the
// revoked username back. The adopted username goes back only while the
// namespace's rule allows it; otherwise the one EKS derives does.
func TestGiveBackOnlyWhatTheRuleAllows(t *testing.T) {
	const adopted = tenantNS + ":ops-{{SessionName}}"
	principal := roleARN("adopted")
	derived := awsarn.DefaultUsername(principal)
	cases := []struct {
		name      string
		namespace string
		usernames []v1.Pattern
		want      string
	}{
		{"the rule allows it still", tenantNS, []v1.Pattern{"{{namespace}}:*"}, adopted},
		{"the rule revoked it", tenantNS, []v1.Pattern{"{{namespace}}:{{SessionName}}"}, derived},
		{"the platform's object", testNS, []v1.Pattern{"{{namespace}}:{{SessionName}}"}, adopted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rule := tenancyRule()
			rule.Usernames = c.usernames
			cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: "demo"},
				Spec: v1.ClusterAccessConfigSpec{ClusterName: "demo", Guardrails: v1.Guardrails{Rules: []v1.GrantRule{rule}}}}
			ae := stepObject("adopted", func(ae *v1.AccessEntry) {
				ae.Namespace, ae.Spec.PrincipalARN, ae.Spec.Username = c.namespace, principal, tenantNS+":{{SessionName}}"
			})
			w := newStepWorld(t, cac, ae)
			id := v1.EntryIdentity{ClusterName: "demo", Region: region, PrincipalARN: principal, Type: v1.TypeStandard}
			got, err := w.r.allowedGiveBack(context.Background(), newEntryPass(ae), id, v1.AdoptedEntry{ARN: "arn:entry", Username: adopted})
			if err != nil || got.Username != c.want {
				t.Errorf("gives back username %q (%v), want %q", got.Username, err, c.want)
			}
		})
	}
}
