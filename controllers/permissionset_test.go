package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// iamManager runs a manager for the AccessEntries of shard, with IAM lookups
// (principals and permission sets) every 2 seconds (or every, when given),
// until the test ends.
func iamManager(t *testing.T, shard string, every ...time.Duration) {
	t.Helper()
	stop, err := startManager(shardLabel+"="+shard, time.Second, false, func(r *AccessEntryReconciler) {
		r.Principals, r.PermissionSets = r.AWS, r.AWS
		r.PrincipalCheckInterval = append(every, 2*time.Second)[0]
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
}

// An AccessEntry naming its principal by IAM Identity Center permission set is
// resolved through IAM's ListRoles (the real SDK, every page, both of Identity
// Center's path forms) and follows the set's role: re-provisioned, not yet
// assigned, unassigned, matched twice; and a tenant may name only the sets its
// rule allows.
func TestPermissionSetPrincipals(t *testing.T) {
	testenv.RequireControlPlane(t)
	iamManager(t, "permission-sets")
	// Pages of two roles: a lookup that does not follow Marker misses sets.
	emu.SetListRolesPage(2)
	t.Cleanup(func() { emu.SetListRolesPage(0) })
	sso := func(set, regionSegment, suffix string) string {
		return eksemulator.SSORoleARN(account, set, regionSegment, suffix)
	}
	for _, arn := range []string{
		sso("Admins", "", "0000111122223333"), sso("Billing", "", "4444555566667777"), sso("Developers_Admin", "", "8888999900001111"),
		sso("Developers", "", "0123456789abcdef"), sso("ReadOnly", "", "aaaabbbbccccdddd"), sso("Auditors", region, "5555666677778888"),
	} {
		emu.AddPrincipal(arn)
	}
	named := func(name, set string, mutate ...func(*v1.AccessEntry)) *v1.AccessEntry {
		ae := entry(name, "", func(ae *v1.AccessEntry) {
			ae.Labels = map[string]string{shardLabel: "permission-sets"}
			ae.Spec.ClusterName = "sso"
			ae.Spec.IdentityCenter = &v1.IdentityCenterPrincipal{PermissionSet: set}
			ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"people"}
			ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)}
		})
		for _, m := range mutate {
			m(ae)
		}
		return ae
	}
	// resolved waits for the object Ready on role arn: status names it and
	// its ID, and EKS holds the spec's entry for it.
	resolved := func(t *testing.T, ae *v1.AccessEntry, arn string) *v1.AccessEntry {
		t.Helper()
		var cur *v1.AccessEntry
		eventually(t, 60*time.Second, ae.Name+" Ready on "+arn, func() (bool, string) {
			cur = get(t, client.ObjectKeyFromObject(ae))
			ic := cur.Status.IdentityCenter
			e, held := emuEntry("sso", arn)
			ready := meta.IsStatusConditionTrue(cur.Status.Conditions, v1.ConditionReady) && cur.Status.ObservedGeneration == cur.Generation
			return ready && ic != nil && ic.RoleARN == arn && ic.RoleID == emu.PrincipalID(arn) && cur.Status.Identity.PrincipalARN == arn &&
				held && e.PrincipalID == emu.PrincipalID(arn) && len(e.Policies) == 1, fmt.Sprintf("%s status %+v held %v", conditions(cur), ic, held)
		})
		return cur
	}

	developers := named("sso-developers", "Developers", func(ae *v1.AccessEntry) { ae.Spec.DeletionPolicy = v1.DeletionPolicyRetain })
	create(t, developers)
	auditors := named("sso-auditors", "Auditors")
	create(t, auditors)

	t.Run("resolved in both path forms, across pages, by the exact set name", func(t *testing.T) {
		resolved(t, developers, sso("Developers", "", "0123456789abcdef"))
		resolved(t, auditors, sso("Auditors", region, "5555666677778888"))
		if _, held := emuEntry("sso", sso("Developers_Admin", "", "8888999900001111")); held {
			t.Fatal("set Developers took the role of set Developers_Admin")
		}
	})

	t.Run("re-provisioned: the entry moves, nothing stays on the old role", func(t *testing.T) {
		old := sso("Developers", "", "0123456789abcdef")
		moved, err := emu.ReprovisionPermissionSet(account, "Developers")
		if err != nil {
			t.Fatal(err)
		}
		resolved(t, developers, moved)
		// deletionPolicy Retain keeps entries a person moved away from, not one
		// bound to a role IAM no longer holds.
		if e, held := emuEntry("sso", old); held {
			t.Fatalf("the old role's entry is still in EKS: %+v", e)
		}
		eventually(t, 10*time.Second, "a PermissionSetReprovisioned event naming both roles", func() (bool, string) {
			return hasEvent(testNS, developers.Name, "PermissionSetReprovisioned", moved), "no event"
		})
		if !hasEvent(testNS, developers.Name, "PermissionSetReprovisioned", old) {
			t.Fatal("the event does not name the old role")
		}
	})

	t.Run("re-provisioned while EKS refuses every call: the old role's entry still goes", func(t *testing.T) {
		// The lookup finds the new role while the old entry cannot be deleted;
		// the pass that deletes it later must still know it for a dead role's,
		// not one deletionPolicy Retain keeps.
		old := get(t, client.ObjectKeyFromObject(developers)).Status.IdentityCenter.RoleARN
		emu.SetFaults(eksemulator.Faults{Throttled: []string{account}})
		t.Cleanup(func() { emu.SetFaults(eksemulator.Faults{}) })
		moved, err := emu.ReprovisionPermissionSet(account, "Developers")
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "the new role recorded while EKS refuses", func() (bool, string) {
			ic := get(t, client.ObjectKeyFromObject(developers)).Status.IdentityCenter
			return ic != nil && ic.RoleARN == moved, fmt.Sprintf("%+v", ic)
		})
		emu.SetFaults(eksemulator.Faults{})
		resolved(t, developers, moved)
		if e, held := emuEntry("sso", old); held {
			t.Fatalf("the old role's entry is still in EKS: %+v", e)
		}
	})

	oncall := named("sso-oncall", "Oncall")
	create(t, oncall)
	oncallRole := sso("Oncall", "", "feedfacecafebeef")
	t.Run("not assigned yet: waits, then resolves once IAM holds the role", func(t *testing.T) {
		cur := waitReason(t, oncall, v1.ReasonPermissionSetNotAssigned, 30*time.Second)
		msg := meta.FindStatusCondition(cur.Status.Conditions, v1.ConditionReady).Message
		for _, want := range []string{"permission set Oncall", "account " + account, "not assigned", "Assign the permission set"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message %q does not say %q", msg, want)
			}
		}
		emu.AddPrincipal(oncallRole)
		resolved(t, oncall, oncallRole)
	})

	t.Run("unassigned: the entry of the deleted role is deleted, the object waits", func(t *testing.T) {
		emu.DeletePrincipal(oncallRole)
		waitReason(t, oncall, v1.ReasonPermissionSetNotAssigned, 60*time.Second)
		if e, held := emuEntry("sso", oncallRole); held {
			t.Fatalf("EKS still holds the entry of the deleted role: %+v", e)
		}
		if !hasEvent(testNS, oncall.Name, "PermissionSetUnassigned", oncallRole) {
			t.Fatal("no PermissionSetUnassigned event naming the role")
		}
	})

	t.Run("two roles match: stalled naming both, until one goes", func(t *testing.T) {
		first, second := sso("Auditors", region, "5555666677778888"), sso("Auditors", "", "9999aaaabbbbcccc")
		emu.AddPrincipal(second)
		cur := waitReason(t, auditors, v1.ReasonPermissionSetAmbiguous, 60*time.Second)
		msg := meta.FindStatusCondition(cur.Status.Conditions, v1.ConditionReady).Message
		if !strings.Contains(msg, first) || !strings.Contains(msg, second) || !meta.IsStatusConditionTrue(cur.Status.Conditions, v1.ConditionStalled) {
			t.Fatalf("not stalled naming both roles: %s", conditions(cur))
		}
		if _, held := emuEntry("sso", first); !held {
			t.Fatal("the entry was deleted while the set was ambiguous")
		}
		emu.DeletePrincipal(second)
		resolved(t, auditors, first)
	})

	t.Run("moved to a set not assigned: the old set's entry goes at once", func(t *testing.T) {
		first := sso("Auditors", region, "5555666677778888")
		update(t, auditors, func(ae *v1.AccessEntry) { ae.Spec.IdentityCenter.PermissionSet = "Nobody" })
		waitReason(t, auditors, v1.ReasonPermissionSetNotAssigned, 30*time.Second)
		eventually(t, 30*time.Second, "the entry of the set the spec left deleted", func() (bool, string) {
			e, held := emuEntry("sso", first)
			return !held, fmt.Sprintf("%+v", e)
		})
	})
}

// setObject is a tenant's AccessEntry naming a permission set, with View in its
// own namespace, in a shard of the tests' managers; deleted when the test ends.
func setObject(t *testing.T, tenant client.Client, shard, ns, name, cluster, set string) *v1.AccessEntry {
	t.Helper()
	ae := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{shardLabel: shard}},
		Spec: v1.AccessEntrySpec{ClusterName: cluster, IdentityCenter: &v1.IdentityCenterPrincipal{PermissionSet: set},
			AccessPolicies: []v1.AccessPolicy{policy(viewPolicy, v1.ScopeNamespace(ns))}}}
	if err := tenant.Create(context.Background(), ae); err != nil {
		t.Fatalf("the tenant creating %s: %v", name, err)
	}
	t.Cleanup(func() { deleteAndWait(t, client.ObjectKeyFromObject(ae)) })
	return ae
}

// A tenant names only the permission sets its rule allows: by the rule's
// permissionSets patterns, with {{namespace}} kept to the namespace's own.
func TestTenantPermissionSets(t *testing.T) {
	testenv.RequireControlPlane(t)
	tenant := tenantClient(t)
	iamManager(t, "sso-tenants")
	allowed, refused := eksemulator.SSORoleARN(account, tenantNS+"-readers", "", "1234123412341234"), eksemulator.SSORoleARN(account, "PlatformAdmins", "", "4321432143214321")
	emu.AddPrincipal(allowed)
	emu.AddPrincipal(refused)
	rule := v1.GrantRule{Name: "people", Namespaces: v1.RuleNamespaces{Names: []string{tenantNS}},
		Principals:     v1.RulePrincipals{PermissionSets: []v1.Pattern{"{{namespace}}-*"}},
		AccessPolicies: []v1.PolicyGrant{{PolicyARN: viewPolicy}}}
	rulesConfig(t, "sso-tenants", rule)

	tenantEntry := func(name, set string) *v1.AccessEntry {
		return setObject(t, tenant, "sso-tenants", tenantNS, name, "sso-tenants", set)
	}
	mine := tenantEntry("sso-mine", tenantNS+"-readers")
	theirs := tenantEntry("sso-platform", "PlatformAdmins")

	waitReady(t, mine, 60*time.Second)
	if _, held := emuEntry("sso-tenants", allowed); !held {
		t.Fatal("the allowed set's role holds no entry")
	}
	cur := waitReason(t, theirs, v1.ReasonNotPermitted, 60*time.Second)
	msg := meta.FindStatusCondition(cur.Status.Conditions, v1.ConditionReady).Message
	if !strings.Contains(msg, "spec.identityCenter.permissionSet PlatformAdmins") || !strings.Contains(msg, tenantNS+"-*") {
		t.Fatalf("the refusal does not name the set and what is allowed: %q", msg)
	}
	if e, held := emuEntry("sso-tenants", refused); held {
		t.Fatalf("EKS holds an entry for a set the rule does not allow: %+v", e)
	}
	// IAM is not asked for a set no rule allows: the tenant learns neither
	// whether it is assigned nor its role.
	if ic := cur.Status.IdentityCenter; ic != nil || strings.Contains(msg, refused) {
		t.Fatalf("the refused object is told the set's role: status %+v, message %q", ic, msg)
	}
	unassigned := tenantEntry("sso-unassigned", "NoSuchSet")
	cur = waitReason(t, unassigned, v1.ReasonNotPermitted, 60*time.Second)
	if ic := cur.Status.IdentityCenter; ic != nil {
		t.Fatalf("status of a set no rule allows: %+v", ic)
	}

	// A set the platform declares (an AccessEntry of a trusted namespace) is
	// the platform's: the tenant's object naming it is refused, though its
	// rule's pattern allows it, and holds nothing.
	oncall := eksemulator.SSORoleARN(account, tenantNS+"-oncall", region, "5678567856785678")
	emu.AddPrincipal(oncall)
	platform := entry("sso-platform-oncall", "", func(ae *v1.AccessEntry) {
		ae.Labels = map[string]string{shardLabel: "sso-tenants"}
		ae.Spec.ClusterName = "sso-tenants"
		ae.Spec.IdentityCenter = &v1.IdentityCenterPrincipal{PermissionSet: tenantNS + "-oncall"}
	})
	create(t, platform)
	waitReady(t, platform, 60*time.Second)
	squat := tenantEntry("sso-squat", tenantNS+"-oncall")
	cur = waitReason(t, squat, v1.ReasonNotPermitted, 60*time.Second)
	if msg := meta.FindStatusCondition(cur.Status.Conditions, v1.ConditionReady).Message; !strings.Contains(msg, "reserved for the platform team") {
		t.Fatalf("the tenant's claim on the platform's set: %q", msg)
	}
	if e, _ := emuEntry("sso-tenants", oncall); e.Tags["eksaccess.io/name"] != platform.Name {
		t.Fatalf("the set's entry is not the platform's: %+v", e)
	}

	// The rule tightened: the set the tenant held is refused, its entry deleted.
	narrowed := rule
	narrowed.Principals.PermissionSets = []v1.Pattern{"{{namespace}}-admins"}
	setRules(t, "sso-tenants", v1.EnforcementRevoke, narrowed)
	waitReason(t, mine, v1.ReasonNotPermitted, 60*time.Second)
	eventually(t, 30*time.Second, "the refused set's entry deleted", func() (bool, string) {
		e, held := emuEntry("sso-tenants", allowed)
		return !held, fmt.Sprintf("%+v", e)
	})
}

// After Identity Center provisions a set again, the object that held its role
// keeps it: an object created between the re-provisioning and the holder's
// next lookup (30 seconds here), which finds the new role first, neither takes
// the shared set's new role from another namespace's object (invariant 7) nor
// holds, for a moment, the role of a set the platform declares (invariants 4
// and 13). Found by the red team (2026-12-06), whose tests these are.
func TestReprovisionedSetStaysWithItsHolder(t *testing.T) {
	testenv.RequireControlPlane(t)
	tenant := tenantClient(t)
	iamManager(t, "sso-race", 30*time.Second)
	config := func(cluster string, rule v1.GrantRule) { rulesConfig(t, cluster, rule) }
	tenantObject := func(ns, name, cluster, set string) *v1.AccessEntry {
		return setObject(t, tenant, "sso-race", ns, name, cluster, set)
	}
	// race re-provisions the set right after the holder's lookup, creates the
	// rival once the shared listing shows the new role (15 s), and returns
	// every object that held an entry of the new role in the 45 s after.
	race := func(holder *v1.AccessEntry, cluster, set string, rival func() *v1.AccessEntry) map[string]bool {
		key := client.ObjectKeyFromObject(holder)
		before := get(t, key).Status.IdentityCenter.ResolvedAt
		eventually(t, 60*time.Second, "the holder's next lookup", func() (bool, string) {
			at := get(t, key).Status.IdentityCenter.ResolvedAt
			return at != nil && !at.Equal(before), fmt.Sprint(at)
		})
		moved, err := emu.ReprovisionPermissionSet(account, set)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(15500 * time.Millisecond)
		rival()
		held := map[string]bool{}
		for end := time.Now().Add(45 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			if e, ok := emuEntry(cluster, moved); ok {
				held[e.Tags["eksaccess.io/namespace"]+"/"+e.Tags["eksaccess.io/name"]] = true
			}
		}
		if !held[holder.Namespace+"/"+holder.Name] {
			t.Errorf("the holder never moved to the new role %s: %v", moved, held)
		}
		return held
	}

	t.Run("a shared set stays with the object that applied first", func(t *testing.T) {
		emu.AddPrincipal(eksemulator.SSORoleARN(account, "Shared", "", "1111222233334444"))
		config("sso-shared", v1.GrantRule{Name: "teams", Namespaces: v1.RuleNamespaces{Names: []string{tenantNS, strangerNS}},
			Principals: v1.RulePrincipals{PermissionSets: []v1.Pattern{"Shared"}}, AccessPolicies: []v1.PolicyGrant{{PolicyARN: viewPolicy}}})
		first := tenantObject(tenantNS, "sso-first", "sso-shared", "Shared")
		waitReady(t, first, 60*time.Second)
		var second *v1.AccessEntry
		held := race(first, "sso-shared", "Shared", func() *v1.AccessEntry {
			second = tenantObject(strangerNS, "sso-second", "sso-shared", "Shared")
			return second
		})
		if held[strangerNS+"/sso-second"] {
			t.Fatalf("the later object took the shared set's new role: %v", held)
		}
		waitReason(t, second, v1.ReasonConflict, 30*time.Second)
	})

	t.Run("a tenant never holds the role of a set the platform declares", func(t *testing.T) {
		set := tenantNS + "-oncall-" + "race"
		emu.AddPrincipal(eksemulator.SSORoleARN(account, set, "", "5555666677778888"))
		config("sso-platform", v1.GrantRule{Name: "people", Namespaces: v1.RuleNamespaces{Names: []string{tenantNS}},
			Principals: v1.RulePrincipals{PermissionSets: []v1.Pattern{"{{namespace}}-*"}}, AccessPolicies: []v1.PolicyGrant{{PolicyARN: viewPolicy}}})
		platform := entry("sso-platform-race", "", func(ae *v1.AccessEntry) {
			ae.Labels = map[string]string{shardLabel: "sso-race"}
			ae.Spec.ClusterName = "sso-platform"
			ae.Spec.IdentityCenter = &v1.IdentityCenterPrincipal{PermissionSet: set}
		})
		create(t, platform)
		waitReady(t, platform, 60*time.Second)
		var squat *v1.AccessEntry
		held := race(platform, "sso-platform", set, func() *v1.AccessEntry {
			squat = tenantObject(tenantNS, "sso-squat-race", "sso-platform", set)
			return squat
		})
		if held[tenantNS+"/sso-squat-race"] {
			t.Fatalf("the tenant held the role of the platform's set: %v", held)
		}
		waitReason(t, squat, v1.ReasonNotPermitted, 30*time.Second)
	})
}
