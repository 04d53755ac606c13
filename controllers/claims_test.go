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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// Claims are decided by rule, not by who applied first: the platform's objects
// (the trusted namespace) come before any tenant's, and a tenant's object tells
// it that a principal is taken, never by whom.

// TestTrustedClaimComesFirst: a tenant applied first for a principal its rule
// allows; the platform then declares the same principal. The tenant's object is
// refused, its entry deleted, and the platform's object creates its own.
func TestTrustedClaimComesFirst(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	tenant := tenantClient(t)
	const cluster = "claims-first"
	tenancyConfig(t, cluster)
	principal := roleARN("claims-first")
	squat := entry("claims-squat", principal, func(ae *v1.AccessEntry) {
		ae.Namespace, ae.Spec.ClusterName = tenantNS, cluster
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, tenantNS)}
	})
	if err := tenant.Create(ctx, squat); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, client.ObjectKeyFromObject(squat)) })
	waitReady(t, squat, 30*time.Second)

	platform := entry("claims-platform", principal, func(ae *v1.AccessEntry) {
		ae.Spec.ClusterName = cluster
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(adminPolicy)}
	})
	create(t, platform)
	got := waitReady(t, platform, 30*time.Second)
	e := mustEmuEntry(t, cluster, principal)
	if e.AccessEntryARN != got.Status.AccessEntryARN || e.Tags[ownership.TagNamespace] != testNS {
		t.Errorf("the entry is not the platform object's: %+v, status records %s", e, got.Status.AccessEntryARN)
	}
	wantPolicies(t, e, map[string]string{adminPolicy: "cluster:"})
	refused := waitReason(t, squat, v1.ReasonNotPermitted, 30*time.Second)
	msg := meta.FindStatusCondition(refused.Status.Conditions, v1.ConditionReady).Message
	if !strings.Contains(msg, "is reserved for the platform team") || strings.Contains(msg, platform.Name) {
		t.Errorf("the tenant's message %q: want the principal reserved, and no word of the platform's object", msg)
	}
	if refused.Status.AccessEntryARN != "" {
		t.Errorf("the tenant's object still records %s", refused.Status.AccessEntryARN)
	}
}

// TestTrustedTakesOverTenantLeftover: an entry a tenant left behind (its
// object gone, its tags naming the tenant's namespace) never blocks the
// platform: a trusted object naming the principal takes it over and brings it
// to its spec, without an adopt annotation.
func TestTrustedTakesOverTenantLeftover(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	const cluster = "claims-leftover"
	tenancyConfig(t, cluster)
	principal := roleARN("claims-leftover")
	left := ownership.Owner{Instance: instance, Namespace: tenantNS, Name: "gone"}.Tags()
	if _, err := admin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal),
		KubernetesGroups: []string{"tenant-a-devs"}, Tags: left}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupEntry(t, cluster, principal) })
	platform := entry("claims-takeover", principal, func(ae *v1.AccessEntry) {
		ae.Spec.ClusterName = cluster
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)}
	})
	create(t, platform)
	got := waitReady(t, platform, 30*time.Second)
	e := mustEmuEntry(t, cluster, principal)
	if e.AccessEntryARN != got.Status.AccessEntryARN || e.Tags[ownership.TagNamespace] != testNS || e.Tags[ownership.TagName] != platform.Name {
		t.Errorf("the leftover was not taken over: %+v", e)
	}
	if len(e.KubernetesGroups) != 0 {
		t.Errorf("the tenant's groups stayed: %v", e.KubernetesGroups)
	}
	wantPolicies(t, e, map[string]string{viewPolicy: "cluster:"})
}

// TestTenantConflictTellsNothing: a tenant object naming a principal another
// object manages is in Conflict, and its message does not name that object.
func TestTenantConflictTellsNothing(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	tenant := tenantClient(t)
	const cluster = "claims-conflict"
	tenancyConfig(t, cluster)
	principal := roleARN("claims-twice")
	var objs []*v1.AccessEntry
	for _, name := range []string{"claims-one", "claims-two"} {
		ae := entry(name, principal, func(ae *v1.AccessEntry) { ae.Namespace, ae.Spec.ClusterName = tenantNS, cluster })
		if err := tenant.Create(ctx, ae); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteAndWait(t, client.ObjectKeyFromObject(ae)) })
		objs = append(objs, ae)
		if name == "claims-one" {
			waitReady(t, ae, 30*time.Second)
		}
	}
	got := waitReason(t, objs[1], v1.ReasonConflict, 30*time.Second)
	msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message
	if !strings.Contains(msg, "managed by another AccessEntry") || strings.Contains(msg, "claims-one") {
		t.Errorf("message %q: want the principal taken, and no name of the object that holds it", msg)
	}
}

// TestOneHolderWhateverTheSpelling: IAM names are case-insensitive, so a
// principal spelled in another letter case is the same role, and a second object
// naming it that way is in Conflict (told not by whom) rather than given a second
// entry of the role, which EKS may keep apart.
func TestOneHolderWhateverTheSpelling(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	tenant := tenantClient(t)
	const cluster = "claims-spelling"
	tenancyConfig(t, cluster)
	first, second := roleARN("claims-Spelled"), roleARN("claims-spelled")
	t.Cleanup(func() { cleanupEntry(t, cluster, second) })
	var objs []*v1.AccessEntry
	for _, s := range []struct{ name, principal string }{{"claims-spelled-first", first}, {"claims-spelled-second", second}} {
		ae := entry(s.name, s.principal, func(ae *v1.AccessEntry) { ae.Namespace, ae.Spec.ClusterName = tenantNS, cluster })
		if err := tenant.Create(ctx, ae); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteAndWait(t, client.ObjectKeyFromObject(ae)) })
		objs = append(objs, ae)
		if s.principal == first {
			waitReady(t, ae, 30*time.Second)
		}
	}
	got := waitReason(t, objs[1], v1.ReasonConflict, 30*time.Second)
	msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message
	if !strings.Contains(msg, "another letter case") || strings.Contains(msg, objs[0].Name) {
		t.Errorf("message %q: want the principal taken in another spelling, and no name of the object that holds it", msg)
	}
	if e, ok := emuEntry(cluster, second); ok {
		t.Errorf("EKS holds a second entry of the role, spelled %s: %+v", second, e)
	}
	mustEmuEntry(t, cluster, first)
}

// TestSpellingsCreatedAtOnce: pairs of objects name one role in two letter
// cases and are reconciled at once (their shard's manager starts after both
// exist), so that both may create an entry before either sees the other's. Once
// settled, in each pair one object holds the one entry and the other is in
// Conflict, EKS holding nothing of its spelling.
func TestSpellingsCreatedAtOnce(t *testing.T) {
	testenv.RequireControlPlane(t)
	const shard, pairs = "spellings", 5
	ctx := context.Background()
	var objs [][2]*v1.AccessEntry
	for i := range pairs {
		var pair [2]*v1.AccessEntry
		for j, name := range []string{fmt.Sprintf("Spelled-%d", i), fmt.Sprintf("spelled-%d", i)} {
			pair[j] = entry(fmt.Sprintf("spelled-%d-%d", i, j), roleARN(name), inShard(shard))
			if err := k8s.Create(ctx, pair[j]); err != nil {
				t.Fatal(err)
			}
		}
		objs = append(objs, pair)
	}
	testManager{selector: shardLabel + "=" + shard, resync: time.Hour}.startFor(t)
	t.Cleanup(func() { // before the manager stops, which must let the objects go
		for _, pair := range objs {
			for _, ae := range pair {
				deleteAndWait(t, client.ObjectKeyFromObject(ae))
				cleanupEntry(t, "demo", ae.Spec.PrincipalARN)
			}
		}
	})

	for _, pair := range objs {
		eventually(t, 60*time.Second, pair[0].Name+" and "+pair[1].Name+" settled: one Synced, one Conflict", func() (bool, string) {
			var reasons [2]string
			var held [2]bool
			for j, ae := range pair {
				reasons[j] = readyReason(get(t, client.ObjectKeyFromObject(ae)))
				_, held[j] = emuEntry("demo", ae.Spec.PrincipalARN)
			}
			settled := reasons == [2]string{v1.ReasonSynced, v1.ReasonConflict} && held == [2]bool{true, false} ||
				reasons == [2]string{v1.ReasonConflict, v1.ReasonSynced} && held == [2]bool{false, true}
			return settled, fmt.Sprintf("reasons %v, EKS holds the spellings %v", reasons, held)
		})
	}
}

// TestRetainedEntryTakenOverIsNotDeleted: a tenant's object moved away under
// Retain, and the platform took over the entry it left (a trusted object
// declares the principal). Moving back, switching to deletionPolicy Delete and
// deleting the object must not delete the platform's entry: the object once
// retained it, but another object records it now.
func TestRetainedEntryTakenOverIsNotDeleted(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	tenant := tenantClient(t)
	const cluster = "claims-retained"
	tenancyConfig(t, cluster)
	first, second := roleARN("claims-retained-1"), roleARN("claims-retained-2")
	t.Cleanup(func() { cleanupEntry(t, cluster, second) })
	x := entry("claims-mover", first, func(ae *v1.AccessEntry) {
		ae.Namespace, ae.Spec.ClusterName = tenantNS, cluster
		ae.Spec.DeletionPolicy = v1.DeletionPolicyRetain
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy, tenantNS)}
	})
	if err := tenant.Create(ctx, x); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, client.ObjectKeyFromObject(x)) })
	waitReady(t, x, 30*time.Second)
	tenantUpdate := func(mutate func(*v1.AccessEntry)) {
		t.Helper()
		cur := &v1.AccessEntry{}
		if err := tenant.Get(ctx, client.ObjectKeyFromObject(x), cur); err != nil {
			t.Fatal(err)
		}
		mutate(cur)
		if err := tenant.Update(ctx, cur); err != nil {
			t.Fatal(err)
		}
	}
	tenantUpdate(func(ae *v1.AccessEntry) { ae.Spec.PrincipalARN = second })
	waitReady(t, x, 30*time.Second)

	platform := entry("claims-retained-platform", first, func(ae *v1.AccessEntry) {
		ae.Spec.ClusterName = cluster
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)}
	})
	create(t, platform)
	held := waitReady(t, platform, 30*time.Second).Status.AccessEntryARN

	tenantUpdate(func(ae *v1.AccessEntry) { ae.Spec.PrincipalARN = first })
	waitReason(t, x, v1.ReasonNotPermitted, 30*time.Second)
	tenantUpdate(func(ae *v1.AccessEntry) { ae.Spec.DeletionPolicy = v1.DeletionPolicyDelete })
	if err := tenant.Delete(ctx, x); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the tenant's object to be gone", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(x), &v1.AccessEntry{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	if e, ok := emuEntry(cluster, first); !ok || e.AccessEntryARN != held {
		t.Fatalf("the platform's entry (%s) was deleted or replaced: %+v", held, e)
	}
}

// TestSharedPrincipalsReported: rules that let two namespaces name the same
// principals are reported on the ClusterAccessConfig, and stop being reported
// once each namespace has roles of its own.
func TestSharedPrincipalsReported(t *testing.T) {
	testenv.RequireControlPlane(t)
	const cluster = "claims-shared"
	rule := v1.GrantRule{Name: "teams", Namespaces: v1.RuleNamespaces{Names: []string{tenantNS, strangerNS}},
		Principals: v1.RulePrincipals{ARNs: []v1.Pattern{v1.Pattern(roleARN("shared-ci-*"))}}}
	createConfig(t, &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cluster}, Spec: v1.ClusterAccessConfigSpec{
		ClusterName: cluster, Guardrails: v1.Guardrails{Rules: []v1.GrantRule{rule}}}})
	waitConfig(t, cluster, 30*time.Second, "to report the shared principals", func(c *v1.ClusterAccessConfig) bool {
		return len(c.Status.SharedPrincipals) == 1 && strings.Contains(c.Status.SharedPrincipals[0], "namespaces "+tenantNS+" (rule teams: "+roleARN("shared-ci-*")+") and "+strangerNS)
	})
	rule.Principals.ARNs = []v1.Pattern{v1.Pattern(roleARN("{{namespace}}/*"))}
	setRules(t, cluster, v1.EnforcementRevoke, rule)
	waitConfig(t, cluster, 30*time.Second, "to report nothing shared", func(c *v1.ClusterAccessConfig) bool {
		return configReady(c) && len(c.Status.SharedPrincipals) == 0
	})
}

// TestNodeEntryInAnotherCaseTakesNothing: someone with eks:CreateAccessEntry
// makes a node-type entry of a tenant's held role, spelled in another letter
// case (EKS refuses the same spelling while the tenant's entry exists). Node
// entries reserve a principal for the platform, but this one came after the
// tenant's grant: the grant stays.
func TestNodeEntryInAnotherCaseTakesNothing(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	tenant := tenantClient(t)
	const cluster = "claims-node-case"
	tenancyConfig(t, cluster)
	held, node := roleARN("claims-node-dev"), roleARN("claims-node-DEV")
	ae := entry("claims-node-dev", held, func(ae *v1.AccessEntry) {
		ae.Namespace, ae.Spec.ClusterName = tenantNS, cluster
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy, tenantNS)}
	})
	if err := tenant.Create(ctx, ae); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, client.ObjectKeyFromObject(ae)) })
	waitReady(t, ae, 30*time.Second)
	if _, err := admin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(node), Type: aws.String("EC2_LINUX")}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupEntry(t, cluster, node) })

	// The config's next pass lists the node entry; the object's next pass reads that list.
	cur := &v1.ClusterAccessConfig{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: cluster}, cur); err != nil {
		t.Fatal(err)
	}
	cur.Annotations = map[string]string{"test/nudge": "1"}
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	waitConfig(t, cluster, 30*time.Second, "to list the node entry", func(c *v1.ClusterAccessConfig) bool {
		return slices.ContainsFunc(c.Status.UnmanagedEntries, func(u v1.UnmanagedEntry) bool { return u.PrincipalARN == node })
	})
	update(t, ae, func(ae *v1.AccessEntry) { ae.Annotations = map[string]string{v1.VerifyAnnotation: "1"} })
	eventually(t, 30*time.Second, "a verification of the tenant's object", func() (bool, string) {
		got := get(t, client.ObjectKeyFromObject(ae))
		return got.Status.LastHandledVerify == "1", conditions(got)
	})
	if got := get(t, client.ObjectKeyFromObject(ae)); readyReason(got) != v1.ReasonSynced {
		t.Errorf("the tenant's object is %s, want Synced: a node entry made after its grant took it away", conditions(got))
	}
	wantPolicies(t, mustEmuEntry(t, cluster, held), map[string]string{viewPolicy: "namespace:" + tenantNS})
}

// TestRetainedEntryCountsInEverySpelling: an object moved away under Retain and
// kept its entry of a role; another object naming that role in another letter
// case would get a second entry of it (EKS keys entries by the ARN as written).
// The retained entry was there first: the second object is in Conflict.
func TestRetainedEntryCountsInEverySpelling(t *testing.T) {
	testenv.RequireControlPlane(t)
	const cluster = "claims-spelling"
	kept, respelled := roleARN("claims-Kept"), roleARN("claims-kept")
	x := entry("claims-keeper", kept, func(ae *v1.AccessEntry) {
		ae.Spec.ClusterName, ae.Spec.DeletionPolicy = cluster, v1.DeletionPolicyRetain
	})
	create(t, x)
	t.Cleanup(func() { cleanupEntry(t, cluster, kept) })
	waitReady(t, x, 30*time.Second)
	update(t, x, func(ae *v1.AccessEntry) { ae.Spec.PrincipalARN = roleARN("claims-keeper-next") })
	t.Cleanup(func() { cleanupEntry(t, cluster, roleARN("claims-keeper-next")) })
	if got := waitReady(t, x, 30*time.Second); len(got.Status.RetainedEntries) != 1 {
		t.Fatalf("retained %v, want the first entry", got.Status.RetainedEntries)
	}
	mustEmuEntry(t, cluster, kept)

	y := entry("claims-respelled", respelled, func(ae *v1.AccessEntry) { ae.Spec.ClusterName = cluster })
	create(t, y)
	t.Cleanup(func() { cleanupEntry(t, cluster, respelled) })
	waitReason(t, y, v1.ReasonConflict, 30*time.Second)
	if e, ok := emuEntry(cluster, respelled); ok {
		t.Errorf("EKS holds a second entry of the retained role, spelled %s: %+v", respelled, e)
	}
}

// TestRetainedSpellingNeverCostsAHeldEntry: the red team's finding of
// 2026-12-06. An entry ARN names no path, so a tenant that retained
// role/tenants/team-b/Platform-Admins had a record that matched
// role/platform-admins: the platform's object holding its ClusterAdmin entry
// gave it up, and another namespace's objects were refused. A retained record
// now only keeps an object that holds no entry from creating one, and only a
// retainer in the object's own namespace or a trusted one counts; a tenant's
// live object never comes before a trusted one.
func TestRetainedSpellingNeverCostsAHeldEntry(t *testing.T) {
	const other = "tenant-c"
	entryOf := func(name string) string {
		return fmt.Sprintf("arn:aws:eks:%s:%s:access-entry/demo/role/%s/%s/00000000-0000-0000-0000-000000000000", region, account, account, name)
	}
	retainer := func(ns, name, retained string) *v1.AccessEntry {
		return stepObject(name, func(ae *v1.AccessEntry) {
			ae.Namespace, ae.UID = ns, k8stypes.UID("uid-"+ns+"-"+name)
			ae.Status.RetainedEntries = []v1.RetainedEntry{{ARN: entryOf(retained)}}
		})
	}
	holding := func(ae *v1.AccessEntry) {
		id := v1.EntryIdentity{ClusterName: "demo", Region: region, Account: account, PrincipalARN: ae.Spec.PrincipalARN, Type: v1.TypeStandard}
		ae.Status.Identity, ae.Status.AccessEntryARN = &id, entryOf(ae.Spec.PrincipalARN[strings.LastIndex(ae.Spec.PrincipalARN, "/")+1:])
		ae.Status.CreatedAt = &metav1.Time{Time: time.Now().Add(-time.Hour)}
	}
	object := func(ns, name, principal string, mutate ...func(*v1.AccessEntry)) *v1.AccessEntry {
		return stepObject(name, append([]func(*v1.AccessEntry){func(ae *v1.AccessEntry) {
			ae.Namespace, ae.UID, ae.Spec.PrincipalARN = ns, k8stypes.UID("uid-"+ns+"-"+name), roleARN(principal)
		}}, mutate...)...)
	}
	cases := []struct {
		name     string
		self     *v1.AccessEntry
		others   []*v1.AccessEntry
		conflict bool
	}{
		{"the platform's held entry, a tenant's record of another path and case", object(testNS, "admins", "platform-admins", holding),
			[]*v1.AccessEntry{retainer(tenantNS, "grab", "Platform-Admins")}, false},
		{"the platform's new object, a tenant's record", object(testNS, "admins", "platform-admins"),
			[]*v1.AccessEntry{retainer(tenantNS, "grab", "Platform-Admins")}, false},
		{"another namespace's new object, a tenant's record", object(other, "keep", "keep4"),
			[]*v1.AccessEntry{retainer(tenantNS, "keeper", "KEEP4")}, false},
		{"a held entry, a record of its own namespace", object(tenantNS, "keep", "keep4", holding),
			[]*v1.AccessEntry{retainer(tenantNS, "keeper", "KEEP4")}, false},
		{"a new object, a record of its own namespace", object(tenantNS, "keep", "keep4"),
			[]*v1.AccessEntry{retainer(tenantNS, "keeper", "KEEP4")}, true},
		{"a tenant's new object, the platform's record", object(tenantNS, "keep", "keep4"),
			[]*v1.AccessEntry{retainer(testNS, "keeper", "KEEP4")}, true},
		{"the platform's new object, a tenant's older live holder", object(testNS, "ops", "ops"),
			[]*v1.AccessEntry{object(tenantNS, "ops", "OPS", holding)}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			objs := []client.Object{c.self}
			for _, o := range c.others {
				objs = append(objs, o)
			}
			w := newStepWorld(t, objs...)
			p := w.pass(t, c.self)
			err := w.r.checkSpelling(context.Background(), p)
			if c.conflict {
				if o := outcomeOf(t, err); o.reason != v1.ReasonConflict {
					t.Errorf("%+v, want Conflict", o)
				}
				return
			}
			if err != nil {
				t.Errorf("checkSpelling = %v, want nothing in the way", err)
			}
			if w.writes() != 0 {
				t.Errorf("%d EKS writes, want none", w.writes())
			}
		})
	}
}
