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
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// The tests of this file hold a tenant to "a grant never outlives the tenant's
// right to it": the finalizer that makes the operator judge an entry before its
// object goes (an admission policy the API server enforces), deletionPolicy Retain
// only where a rule allows it, entries left behind judged by pruning, and only
// objects that hold or may still get an entry shielding it from pruning.

// finalizerRefused reports whether err is the admission policy's refusal.
func finalizerRefused(err error) bool {
	return err != nil && (apierrors.IsForbidden(err) || apierrors.IsInvalid(err)) &&
		strings.Contains(err.Error(), "only the eks-access-operator removes eksaccess.io/finalizer")
}

// withoutFinalizer patches the object, as c, to drop the operator's finalizer.
func withoutFinalizer(ctx context.Context, c client.Client, key client.ObjectKey, opts ...client.PatchOption) error {
	cur := &v1.AccessEntry{}
	if err := c.Get(ctx, key, cur); err != nil {
		return err
	}
	stripped := cur.DeepCopy()
	stripped.Finalizers = slices.DeleteFunc(stripped.Finalizers, func(f string) bool { return f == v1.Finalizer })
	return c.Patch(ctx, stripped, client.MergeFrom(cur), opts...)
}

func TestTenantCannotRemoveTheFinalizer(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	tenant := tenantClient(t)
	cluster := "finalized"
	tenancyConfig(t, cluster)

	principal := roleARN("finalized-dev")
	ae := entry("finalized", principal, func(ae *v1.AccessEntry) {
		ae.Namespace, ae.Spec.ClusterName = tenantNS, cluster
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy, tenantNS)}
	})
	if err := tenant.Create(ctx, ae); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(ae)
	t.Cleanup(func() { deleteAndWait(t, key); cleanupEntry(t, cluster, principal) })
	waitReady(t, ae, 30*time.Second)

	// The API server compiles a new policy a moment after it is created: a dry
	// run, which admission judges too, says when it is in force.
	eventually(t, 30*time.Second, "the admission policy to refuse the tenant", func() (bool, string) {
		err := withoutFinalizer(ctx, tenant, key, client.DryRunAll)
		return finalizerRefused(err), "the tenant's dry run: " + errString(err)
	})
	if err := withoutFinalizer(ctx, tenant, key); !finalizerRefused(err) {
		t.Fatalf("the tenant removed the finalizer of its own AccessEntry (%v)", err)
	}
	stripped := get(t, key)
	stripped.Finalizers = nil
	if err := tenant.Update(ctx, stripped); !finalizerRefused(err) {
		t.Fatalf("the tenant's update without finalizers: %v", err)
	}

	t.Run("after deleting it, with no operator acting", func(t *testing.T) {
		// shard=paused: no manager of the suite acts on it, as when the operator is down.
		held := entry("finalized-paused", roleARN("finalized-paused"), func(ae *v1.AccessEntry) {
			ae.Namespace, ae.Spec.ClusterName = tenantNS, cluster
			ae.Labels = map[string]string{shardLabel: "paused"}
			ae.Finalizers = []string{v1.Finalizer}
		})
		if err := tenant.Create(ctx, held); err != nil {
			t.Fatal(err)
		}
		hkey := client.ObjectKeyFromObject(held)
		t.Cleanup(func() { deleteAndWait(t, hkey) })
		if err := tenant.Delete(ctx, held); err != nil {
			t.Fatal(err)
		}
		if got := get(t, hkey); got.DeletionTimestamp.IsZero() {
			t.Fatal("not being deleted")
		}
		if err := withoutFinalizer(ctx, tenant, hkey); !finalizerRefused(err) {
			t.Fatalf("the tenant removed the finalizer of its AccessEntry being deleted (%v)", err)
		}
		// Handed to the operator (its shard), the operator lets it go.
		cur := get(t, hkey)
		unpaused := cur.DeepCopy()
		unpaused.Labels = nil
		if err := tenant.Patch(ctx, unpaused, client.MergeFrom(cur)); err != nil {
			t.Fatalf("the tenant may change labels: %v", err)
		}
		eventually(t, 30*time.Second, "the operator to let the object go", func() (bool, string) {
			err := k8s.Get(ctx, hkey, &v1.AccessEntry{})
			return apierrors.IsNotFound(err), errString(err)
		})
	})

	t.Run("the operator removes it once the entry is deleted", func(t *testing.T) {
		if err := tenant.Delete(ctx, ae); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "the object to be gone", func() (bool, string) {
			err := k8s.Get(ctx, key, &v1.AccessEntry{})
			return apierrors.IsNotFound(err), errString(err)
		})
		if e, ok := emuEntry(cluster, principal); ok {
			t.Fatalf("the entry is still in EKS: %+v", e)
		}
	})
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// TestRetainOnlyWhereARuleAllowsIt: a tenant's deletionPolicy Retain is refused
// unless its rule sets allowRetain, and once the rule stops allowing it, deleting
// the object or moving it to another principal deletes the entry.
func TestRetainOnlyWhereARuleAllowsIt(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	tenant := tenantClient(t)
	cluster := "retain-guard"
	tenancyConfig(t, cluster)
	strict, lenient := tenancyRule(), tenancyRule()
	strict.AllowRetain, lenient.AllowRetain = false, true
	setRules(t, cluster, v1.EnforcementRevoke, strict)

	retained := func(name string) *v1.AccessEntry {
		ae := entry(name, roleARN(name), func(ae *v1.AccessEntry) {
			ae.Namespace, ae.Spec.ClusterName = tenantNS, cluster
			ae.Spec.DeletionPolicy = v1.DeletionPolicyRetain
			ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy, tenantNS)}
		})
		if err := tenant.Create(ctx, ae); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			deleteAndWait(t, client.ObjectKeyFromObject(ae))
			cleanupEntry(t, cluster, ae.Spec.PrincipalARN)
		})
		return ae
	}
	gone := retained("retain-gone")
	moved := retained("retain-moved")
	for _, ae := range []*v1.AccessEntry{gone, moved} {
		got := waitReason(t, ae, v1.ReasonNotPermitted, 30*time.Second)
		msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message
		for _, w := range []string{"spec.deletionPolicy Retain is not allowed", "set spec.deletionPolicy: Delete", "allowRetain on rule team"} {
			if !strings.Contains(msg, w) {
				t.Errorf("message %q does not say %q", msg, w)
			}
		}
		if e, ok := emuEntry(cluster, ae.Spec.PrincipalARN); ok {
			t.Fatalf("an entry was made for a refused Retain: %+v", e)
		}
	}

	setRules(t, cluster, v1.EnforcementRevoke, lenient)
	goneARN := waitReady(t, gone, 30*time.Second).Status.AccessEntryARN
	movedARN := waitReady(t, moved, 30*time.Second).Status.AccessEntryARN
	setRules(t, cluster, v1.EnforcementRevoke, strict)
	waitReason(t, gone, v1.ReasonNotPermitted, 30*time.Second)
	waitReason(t, moved, v1.ReasonNotPermitted, 30*time.Second)

	t.Run("deleted: Retain not honoured", func(t *testing.T) {
		if err := tenant.Delete(ctx, gone); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "the object to be gone", func() (bool, string) {
			err := k8s.Get(ctx, client.ObjectKeyFromObject(gone), &v1.AccessEntry{})
			return apierrors.IsNotFound(err), errString(err)
		})
		if e, ok := emuEntry(cluster, gone.Spec.PrincipalARN); ok {
			t.Fatalf("the entry %s outlived its object, whose rule does not allow Retain: %+v", goneARN, e)
		}
		// The recorder writes events in the background: the object may be gone first.
		eventually(t, 10*time.Second, "a RetainNotAllowed event", func() (bool, string) {
			return hasEvent(tenantNS, gone.Name, "RetainNotAllowed", "deletionPolicy Retain is not honoured"), "none yet"
		})
	})

	t.Run("moved to another principal: the old entry goes", func(t *testing.T) {
		cur := &v1.AccessEntry{}
		if err := tenant.Get(ctx, client.ObjectKeyFromObject(moved), cur); err != nil {
			t.Fatal(err)
		}
		next := cur.DeepCopy()
		next.Spec.PrincipalARN = roleARN("retain-moved-next")
		if err := tenant.Patch(ctx, next, client.MergeFrom(cur)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cleanupEntry(t, cluster, next.Spec.PrincipalARN) })
		eventually(t, 30*time.Second, "the old entry deleted", func() (bool, string) {
			_, ok := emuEntry(cluster, moved.Spec.PrincipalARN)
			return !ok, "entry " + movedARN + " still there"
		})
		if got := get(t, client.ObjectKeyFromObject(moved)); len(got.Status.RetainedEntries) != 0 {
			t.Errorf("status keeps %+v", got.Status.RetainedEntries)
		}
	})
}

// TestLeftoversAreJudged: an entry a tenant's object retained and left behind is
// held to its namespace's rule by pruning, whatever unmanagedEntries.policy says
// (Keep here): what a narrowed rule no longer allows is removed, and the entry
// goes once no rule admits the namespace. An entry protect names is left alone,
// whatever its tags say.
func TestLeftoversAreJudged(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	tenant := tenantClient(t)
	cluster := "leftover"
	glass := roleARN("leftover-glass")
	// Someone allowed eks:TagResource marks a protected entry as left by the tenant.
	if _, err := admin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(glass),
		Tags: ownership.Owner{Instance: instance, Namespace: tenantNS, Name: "leftover-forged"}.Tags()}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(glass),
		PolicyArn: aws.String(editPolicy), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupEntry(t, cluster, glass) })
	rule := tenancyRule()
	rule.AllowRetain = true
	createConfig(t, &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cluster}, Spec: v1.ClusterAccessConfigSpec{
		ClusterName: cluster, Guardrails: v1.Guardrails{Rules: []v1.GrantRule{rule}},
		UnmanagedEntries: v1.UnmanagedEntries{Protect: []string{roleARN("leftover-gl*")}}}})
	waitConfig(t, cluster, 30*time.Second, "to read the cluster", func(c *v1.ClusterAccessConfig) bool { return configReady(c) && c.Status.AccountID != "" })

	principal := roleARN("leftover-dev")
	ae := entry("leftover", principal, func(ae *v1.AccessEntry) {
		ae.Namespace, ae.Spec.ClusterName = tenantNS, cluster
		ae.Spec.DeletionPolicy = v1.DeletionPolicyRetain
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, tenantNS), policy(viewPolicy, tenantNS)}
	})
	if err := tenant.Create(ctx, ae); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, client.ObjectKeyFromObject(ae)); cleanupEntry(t, cluster, principal) })
	waitReady(t, ae, 30*time.Second)
	if err := tenant.Delete(ctx, ae); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the object to be gone", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(ae), &v1.AccessEntry{})
		return apierrors.IsNotFound(err), errString(err)
	})
	if e := mustEmuEntry(t, cluster, principal); e.Tags[ownership.TagName] != ae.Name || len(e.Policies) != 2 {
		t.Fatalf("the retained entry: %+v", e)
	}
	// A live object that moved to another principal under Retain keeps its old
	// entry among its retained ones: that entry is judged as well.
	away := roleARN("leftover-away")
	mover := entry("leftover-mover", away, func(ae *v1.AccessEntry) {
		ae.Namespace, ae.Spec.ClusterName = tenantNS, cluster
		ae.Spec.DeletionPolicy = v1.DeletionPolicyRetain
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, tenantNS), policy(viewPolicy, tenantNS)}
	})
	if err := tenant.Create(ctx, mover); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		deleteAndWait(t, client.ObjectKeyFromObject(mover))
		cleanupEntry(t, cluster, away)
		cleanupEntry(t, cluster, roleARN("leftover-here"))
	})
	waitReady(t, mover, 30*time.Second)
	cur := &v1.AccessEntry{}
	if err := tenant.Get(ctx, client.ObjectKeyFromObject(mover), cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.PrincipalARN = roleARN("leftover-here")
	if err := tenant.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	waitReady(t, mover, 30*time.Second)
	if e := mustEmuEntry(t, cluster, away); e.Tags[ownership.TagName] != mover.Name || len(e.Policies) != 2 {
		t.Fatalf("the entry the mover retained: %+v", e)
	}

	revokedFrom := func(principal, what string, fragments ...string) {
		t.Helper()
		got := waitConfig(t, cluster, 30*time.Second, what, func(c *v1.ClusterAccessConfig) bool {
			return configReady(c) && slices.ContainsFunc(c.Status.UnmanagedEntries, func(u v1.UnmanagedEntry) bool {
				return u.PrincipalARN == principal && u.Action == "Revoked" && containsAll(u.Reason, fragments...)
			})
		})
		eventually(t, 10*time.Second, "a Revoked event on the ClusterAccessConfig saying "+fragments[0], func() (bool, string) {
			return hasEvent("default", got.Name, "Revoked", fragments[0]), "none yet"
		})
	}
	revoked := func(what string, fragments ...string) { t.Helper(); revokedFrom(principal, what, fragments...) }

	t.Run("the rule drops Edit: Edit goes", func(t *testing.T) {
		narrow := narrowRule()
		narrow.AllowRetain = true
		setRules(t, cluster, v1.EnforcementRevoke, narrow)
		revoked("to revoke Edit", "access policy AmazonEKSEditPolicy", "left by AccessEntry "+tenantNS+"/leftover", "rule team", "namespace "+tenantNS)
		wantPolicies(t, mustEmuEntry(t, cluster, principal), map[string]string{viewPolicy: "namespace:" + tenantNS})
		revokedFrom(away, "to revoke Edit from the mover's retained entry", "access policy AmazonEKSEditPolicy", "left by AccessEntry "+tenantNS+"/leftover-mover")
		wantPolicies(t, mustEmuEntry(t, cluster, away), map[string]string{viewPolicy: "namespace:" + tenantNS})
	})

	t.Run("no rule admits the namespace: the entry goes", func(t *testing.T) {
		other := tenancyRule()
		other.Name, other.Namespaces, other.AllowRetain = "others", v1.RuleNamespaces{Names: []string{"someone-else"}}, true
		setRules(t, cluster, v1.EnforcementRevoke, other)
		revoked("to delete the entry", "the whole entry", "no rule of ClusterAccessConfig "+cluster+" with allowRetain admits namespace "+tenantNS)
		if e, ok := emuEntry(cluster, principal); ok {
			t.Fatalf("the leftover is still in EKS: %+v", e)
		}
	})

	t.Run("forged tags on a protected principal: left alone", func(t *testing.T) {
		e := mustEmuEntry(t, cluster, glass)
		wantPolicies(t, e, map[string]string{editPolicy: "cluster:"})
		cac := waitConfig(t, cluster, 5*time.Second, "", func(*v1.ClusterAccessConfig) bool { return true })
		if slices.ContainsFunc(cac.Status.UnmanagedEntries, func(u v1.UnmanagedEntry) bool { return u.PrincipalARN == glass && u.Action != "Kept" }) {
			t.Errorf("the protected entry: %+v", cac.Status.UnmanagedEntries)
		}
	})
}

func containsAll(s string, fragments ...string) bool {
	for _, f := range fragments {
		if !strings.Contains(s, f) {
			return false
		}
	}
	return true
}

// TestRefusedClaimsDoNotShieldFromPruning extends TestRefusedObjectsDoNotShieldFromPruning:
// an object the guardrails allow, but which was refused its principal's entry
// (AlreadyExists: it does not adopt it), does not keep that entry from being
// pruned; an object whose status records its entry does.
func TestRefusedClaimsDoNotShieldFromPruning(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	tenant := tenantClient(t)
	cluster := "unshielded"
	stray := roleARN("unshielded-stray")
	made, err := admin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(stray)})
	if err != nil {
		t.Fatal(err)
	}
	handMade := aws.ToString(made.AccessEntry.AccessEntryArn)
	t.Cleanup(func() { cleanupEntry(t, cluster, stray) })
	tenancyConfig(t, cluster)

	claimant := entry("unshielded-claimant", stray, func(ae *v1.AccessEntry) { ae.Namespace, ae.Spec.ClusterName = tenantNS, cluster })
	owner := entry("unshielded-owner", roleARN("unshielded-owner"), func(ae *v1.AccessEntry) { ae.Namespace, ae.Spec.ClusterName = tenantNS, cluster })
	for _, ae := range []*v1.AccessEntry{claimant, owner} {
		if err := tenant.Create(ctx, ae); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			deleteAndWait(t, client.ObjectKeyFromObject(ae))
			cleanupEntry(t, cluster, ae.Spec.PrincipalARN)
		})
	}
	waitReason(t, claimant, v1.ReasonAlreadyExists, 30*time.Second)
	waitReady(t, owner, 30*time.Second)

	cur := &v1.ClusterAccessConfig{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: cluster}, cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.UnmanagedEntries.Policy = v1.UnmanagedDelete
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	// Pruned, the principal is free: the refused object, rechecked, may then
	// create its own entry, and the next pass no longer lists the hand-made one as
	// deleted. So the hand-made entry itself is looked for.
	eventually(t, 30*time.Second, "the hand-made entry the refused object names to be pruned", func() (bool, string) {
		e, ok := emuEntry(cluster, stray)
		cac := &v1.ClusterAccessConfig{}
		_ = k8s.Get(ctx, client.ObjectKey{Name: cluster}, cac)
		return !ok || e.AccessEntryARN != handMade, fmt.Sprintf("entry %+v; config generation %d, status %+v; claimant %s",
			e, cac.Generation, cac.Status, conditions(get(t, client.ObjectKeyFromObject(claimant))))
	})
	got := waitConfig(t, cluster, 30*time.Second, "to have handled the change", func(c *v1.ClusterAccessConfig) bool {
		return configReady(c) && c.Status.ObservedGeneration == c.Generation
	})
	if slices.ContainsFunc(got.Status.UnmanagedEntries, func(u v1.UnmanagedEntry) bool { return u.PrincipalARN == owner.Spec.PrincipalARN }) {
		t.Errorf("the owner's entry is taken as unmanaged: %+v", got.Status.UnmanagedEntries)
	}
	if _, ok := emuEntry(cluster, owner.Spec.PrincipalARN); !ok {
		t.Fatal("the entry an allowed object records was pruned")
	}
}

// TestMayOwn: how far a tenant object shields its principal's entry from
// pruning. One refused the entry, on a recheck ("creating the EKS access entry"
// before EKS refuses it again), still shields only an entry being made for it,
// never a hand-made one it would be refused; one that holds its entry, or may
// adopt, shields whatever is there.
func TestMayOwn(t *testing.T) {
	id := v1.EntryIdentity{ClusterName: "c", Region: region, Account: account, Partition: "aws", PrincipalARN: roleARN("may-own"), Type: "STANDARD"}
	allows := guardrails.Judge(guardrails.Config{Name: "c", Rules: []v1.GrantRule{tenancyRule()}}, guardrails.Request{Namespace: tenantNS, Principal: id.PrincipalARN, Type: "STANDARD"})
	if !allows.Allowed() || !allows.AllowsAdoption() {
		t.Fatalf("the tenancy rule: %s", allows.Message())
	}
	for _, c := range []struct {
		name   string
		mutate func(*v1.AccessEntry)
		want   shield
	}{
		{"creating on a recheck", func(ae *v1.AccessEntry) {
			ae.Status.Identity = &id
			accessEntryConditions(ae).reconciling(v1.ReasonProgressing, "creating the EKS access entry")
		}, shieldsOwnEntry},
		{"refused the entry", func(ae *v1.AccessEntry) {
			accessEntryConditions(ae).stalled(v1.ReasonAlreadyExists, "an EKS access entry already exists")
		}, shieldsNothing},
		{"holding it", func(ae *v1.AccessEntry) {
			ae.Status.Identity, ae.Status.AccessEntryARN = &id, "arn:aws:eks:us-west-2:"+account+":access-entry/c/role/x"
		}, shieldsAny},
		{"adopting", func(ae *v1.AccessEntry) {
			ae.Annotations = map[string]string{v1.AdoptAnnotation: "true"}
			accessEntryConditions(ae).reconciling(v1.ReasonProgressing, "adopting")
		}, shieldsAny},
	} {
		ae := entry("may-own", id.PrincipalARN, func(ae *v1.AccessEntry) { ae.Namespace, ae.Spec.ClusterName = tenantNS, "c" })
		c.mutate(ae)
		if got := mayOwn(ae, allows, "c"); got != c.want {
			t.Errorf("%s: shield %d, want %d", c.name, got, c.want)
		}
	}
}

// TestRetainReadsTheRulesAsTheyAreNow: the platform withdraws allowRetain, and a
// tenant deletes its object under Retain before the operator's cache has seen
// the change. The entry is not kept: the keep is decided on the config the API
// server holds. Deciding on the cache, as the operator once did, kept an entry
// no rule allowed any more, and nothing judged it again until the config's
// next full pass.
func TestRetainReadsTheRulesAsTheyAreNow(t *testing.T) {
	lenient, strict := tenancyRule(), tenancyRule()
	lenient.AllowRetain, strict.AllowRetain = true, false
	config := func(rule v1.GrantRule) *v1.ClusterAccessConfig {
		return &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: "demo"},
			Spec: v1.ClusterAccessConfigSpec{ClusterName: "demo", Guardrails: v1.Guardrails{Rules: []v1.GrantRule{rule}}}}
	}
	cached := newStepWorld(t, config(lenient))
	apiServer := newStepWorld(t, config(strict))
	ae := entry("retained", roleARN("retained"), func(ae *v1.AccessEntry) {
		ae.Namespace, ae.Spec.ClusterName, ae.Spec.DeletionPolicy = tenantNS, "demo", v1.DeletionPolicyRetain
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy, tenantNS)}
	})
	id := v1.EntryIdentity{ClusterName: "demo", Region: region, PrincipalARN: ae.Spec.PrincipalARN, Type: v1.TypeStandard}
	r := cached.r
	for _, c := range []struct {
		name   string
		reader client.Reader
		want   bool
	}{
		{"the API server agrees with the cache", cached.k8s, true},
		{"the API server holds a newer config without allowRetain", apiServer.k8s, false},
	} {
		r.APIReader = c.reader
		p := &entryPass{ae: ae, id: id}
		got, err := r.retains(context.Background(), p, id)
		if err != nil || got != c.want {
			t.Errorf("%s: retains = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}

// TestLeftoversHeldToTheEntryLimit: the red team's finding of 2026-12-06. A
// namespace allowed 2 entries holds one through a live object and left three
// more behind under Retain (objects deleted, or moved away). A full pass keeps
// one of them, the first it judges, and deletes the other two: Retain no longer
// lets a namespace fill the cluster's quota past its limit.
func TestLeftoversHeldToTheEntryLimit(t *testing.T) {
	ctx := context.Background()
	rule := tenancyRule()
	rule.AllowRetain, rule.MaxEntriesPerNamespace = true, 2
	live := stepObject("live", func(ae *v1.AccessEntry) {
		ae.Namespace = tenantNS
		id := v1.EntryIdentity{ClusterName: "demo", Region: region, Account: account, PrincipalARN: ae.Spec.PrincipalARN, Type: v1.TypeStandard}
		ae.Status.Identity, ae.Status.AccessEntryARN = &id, "arn:aws:eks:"+region+":"+account+":access-entry/demo/role/"+account+"/live/1"
	})
	pr := newPruning(ctx, t, 0, 100, live)
	pr.cac.Spec.Guardrails.Rules = []v1.GrantRule{rule}
	pr.cac.Spec.UnmanagedEntries.Policy = v1.UnmanagedKeep
	var left []string
	for _, name := range []string{"gone-1", "gone-2", "gone-3"} {
		principal := roleARN(name)
		tags := ownership.Owner{Instance: instance, Namespace: tenantNS, Name: name}.Tags()
		if _, err := pr.w.eks.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal), Tags: tags}); err != nil {
			t.Fatal(err)
		}
		left = append(left, principal)
	}
	pr.once(ctx, t)
	if _, ended := pr.r.fullPrune.Load(pr.cac.UID); !ended {
		t.Fatal("the full pass did not end in one reconcile")
	}
	var held []string
	for _, e := range pr.w.emu.Entries(account, region, "demo") {
		held = append(held, e.PrincipalARN)
	}
	if want := left[:1]; !slices.Equal(held, want) {
		t.Errorf("EKS holds %v, want only %v: the live object's entry and one leftover fill the limit of 2", held, want)
	}
	revoked := 0
	for _, u := range pr.cac.Status.UnmanagedEntries {
		if u.Action == guardrails.PruneRevoked && strings.Contains(u.Reason, "fills its entry limit in the cluster (2, maxEntriesPerNamespace)") {
			revoked++
		}
	}
	if revoked != 2 {
		t.Errorf("status records %d leftovers removed for the limit, want 2: %+v", revoked, pr.cac.Status.UnmanagedEntries)
	}
}

// TestLingeringObjectAnswersForNothing: the red team's finding of 2026-12-06. A
// tenant adds a finalizer of its own and deletes its object under Retain: the
// operator keeps the entry and lets the object go, but the tenant's finalizer
// holds it in deletion, still recording the entry. Such an object answers for
// nothing: its entry is a leftover, judged by its namespace's rule (here none
// allows Retain any more, so it goes). Taking the lingering object for the
// entry's holder, as pruning once did, kept the entry Protected for as long as
// the tenant liked.
func TestLingeringObjectAnswersForNothing(t *testing.T) {
	ctx := context.Background()
	rule := tenancyRule()
	rule.AllowRetain = false
	pr := newPruning(ctx, t, 0, 100)
	pr.cac.Spec.Guardrails.Rules = []v1.GrantRule{rule}
	pr.cac.Spec.UnmanagedEntries.Policy = v1.UnmanagedKeep
	principal := roleARN("lingering")
	tags := ownership.Owner{Instance: instance, Namespace: tenantNS, Name: "lingering"}.Tags()
	out, err := pr.w.eks.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal), Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	ae := stepObject("lingering", func(ae *v1.AccessEntry) {
		ae.Namespace, ae.Spec.PrincipalARN, ae.Spec.DeletionPolicy = tenantNS, principal, v1.DeletionPolicyRetain
		ae.Finalizers = []string{"example.com/hold"}
	})
	if err := pr.w.k8s.Create(ctx, ae); err != nil {
		t.Fatal(err)
	}
	id := v1.EntryIdentity{ClusterName: "demo", Region: region, Account: account, PrincipalARN: principal, Type: v1.TypeStandard}
	ae.Status.Identity, ae.Status.AccessEntryARN = &id, aws.ToString(out.AccessEntry.AccessEntryArn)
	if err := pr.w.k8s.Status().Update(ctx, ae); err != nil {
		t.Fatal(err)
	}
	if err := pr.w.k8s.Delete(ctx, ae); err != nil { // held by the tenant's finalizer
		t.Fatal(err)
	}
	pr.once(ctx, t)
	if _, ok := pr.w.entry(principal); ok {
		t.Errorf("the entry of %s, kept under Retain by an object in deletion that the operator let go, is still in EKS: %+v", principal, pr.cac.Status.UnmanagedEntries)
	}
}

// TestLeftoverBesideThePlatformsSpelling: the red team's finding of
// 2026-12-06. A tenant left an entry of role Tool4 behind under Retain (its
// rule allows that); the platform then declares role tool4, the same IAM role.
// The tenant's leftover goes, as an entry a tenant held of it would: it kept
// its grant beside the platform's.
func TestLeftoverBesideThePlatformsSpelling(t *testing.T) {
	ctx := context.Background()
	platform := stepObject("tool", func(ae *v1.AccessEntry) { ae.Spec.PrincipalARN = roleARN("tool4") })
	pr := newPruning(ctx, t, 0, 100, platform)
	pr.r.TrustedNamespaces = []string{testNS}
	pr.cac.Spec.Guardrails.Rules = []v1.GrantRule{tenancyRule()} // allowRetain
	pr.cac.Spec.UnmanagedEntries.Policy = v1.UnmanagedKeep
	left := roleARN("Tool4")
	tags := ownership.Owner{Instance: instance, Namespace: tenantNS, Name: "gone"}.Tags()
	if _, err := pr.w.eks.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(left), Tags: tags}); err != nil {
		t.Fatal(err)
	}
	pr.once(ctx, t)
	if _, ok := pr.w.entry(left); ok {
		t.Errorf("the tenant's leftover of %s stays beside the platform's %s: %+v", left, platform.Spec.PrincipalARN, pr.cac.Status.UnmanagedEntries)
	}
}
