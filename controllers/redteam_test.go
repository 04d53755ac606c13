package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// The red team's findings of 2026-12-05, each as the tenant made it.

// redteamRules: View at cluster scope from a rule without allowRetain, Edit in
// the namespace from one with it.
func redteamRules() []v1.GrantRule {
	accounts := v1.RulePrincipals{Accounts: []string{account}}
	return []v1.GrantRule{
		{Name: "viewers", Namespaces: v1.RuleNamespaces{Names: []string{tenantNS}}, Principals: accounts,
			AccessPolicies: []v1.PolicyGrant{{PolicyARN: viewPolicy, ClusterScope: true}}},
		{Name: "retainers", Namespaces: v1.RuleNamespaces{Names: []string{tenantNS}}, Principals: accounts, AllowRetain: true,
			AccessPolicies: []v1.PolicyGrant{{PolicyARN: editPolicy}}},
	}
}

// TestRetainJudgesTheEntryKept: moving to a new principal under Retain keeps
// the old entry only if a rule with allowRetain allows what it holds, not what
// the new spec asks: View at cluster scope, which only a rule without
// allowRetain gave, is not kept.
func TestRetainJudgesTheEntryKept(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	tenant := tenantClient(t)
	const cluster = "redteam"
	createConfig(t, &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cluster}, Spec: v1.ClusterAccessConfigSpec{ClusterName: cluster,
		Guardrails: v1.Guardrails{Rules: redteamRules()}}})
	first, second := roleARN("redteam-mover-1"), roleARN("redteam-mover-2")
	mover := entry("redteam-mover", first, func(ae *v1.AccessEntry) {
		ae.Namespace, ae.Spec.ClusterName = tenantNS, cluster
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)}
	})
	if err := tenant.Create(ctx, mover); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		deleteAndWait(t, client.ObjectKeyFromObject(mover))
		cleanupEntry(t, cluster, first)
		cleanupEntry(t, cluster, second)
	})
	waitReady(t, mover, 30*time.Second)
	cur := &v1.AccessEntry{}
	if err := tenant.Get(ctx, client.ObjectKeyFromObject(mover), cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.PrincipalARN, cur.Spec.DeletionPolicy = second, v1.DeletionPolicyRetain
	cur.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, tenantNS)}
	if err := tenant.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	waitReady(t, mover, 30*time.Second)
	if e, ok := emuEntry(cluster, first); ok {
		t.Fatalf("the old entry was kept under Retain with what no rule allowing Retain allows: %+v", e)
	}
}

// TestDeletingObjectDoesNotShield: a tenant's object held in deletion by a
// finalizer of the tenant's own, naming the principal of an entry the tenant
// left behind, does not keep that entry from being judged.
func TestDeletingObjectDoesNotShield(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	tenant := tenantClient(t)
	const cluster = "redteam-shield"
	createConfig(t, &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cluster}, Spec: v1.ClusterAccessConfigSpec{ClusterName: cluster,
		Guardrails: v1.Guardrails{Rules: redteamRules()}}})
	principal := roleARN("redteam-left")
	left := entry("redteam-left", principal, func(ae *v1.AccessEntry) {
		ae.Namespace, ae.Spec.ClusterName, ae.Spec.DeletionPolicy = tenantNS, cluster, v1.DeletionPolicyRetain
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, tenantNS)}
	})
	if err := tenant.Create(ctx, left); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupEntry(t, cluster, principal) })
	waitReady(t, left, 30*time.Second)
	shield := entry("redteam-shield", principal, func(ae *v1.AccessEntry) {
		ae.Namespace, ae.Spec.ClusterName, ae.Finalizers = tenantNS, cluster, []string{"tenant.example/hold"}
	})
	if err := tenant.Create(ctx, shield); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cur := get(t, client.ObjectKeyFromObject(shield))
		cur.Finalizers = nil
		if err := k8s.Update(ctx, cur); err != nil {
			t.Error(err)
		}
		deleteAndWait(t, client.ObjectKeyFromObject(shield))
	})
	if err := tenant.Delete(ctx, shield); err != nil {
		t.Fatal(err)
	}
	deleteAndWait(t, client.ObjectKeyFromObject(left))
	wantPolicies(t, mustEmuEntry(t, cluster, principal), map[string]string{editPolicy: "namespace:" + tenantNS})

	rules := redteamRules()[:1] // the platform drops the rule that allowed Retain
	setRules(t, cluster, v1.EnforcementRevoke, rules...)
	eventually(t, 30*time.Second, "the leftover to be judged", func() (bool, string) {
		e, ok := emuEntry(cluster, principal)
		return !ok, fmt.Sprintf("still there: %+v", e)
	})
}
