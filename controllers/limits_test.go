package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// TestEntryLimits: a tenant fills neither its rule's room nor the cluster's
// quota. Of three objects in one namespace under maxEntriesPerNamespace 2, the
// newest is refused and holds nothing; under maxTenantEntries 3 a second
// namespace gets one (the first's surplus takes no room) and the platform's
// object still finds room in a cluster whose quota is 4. Deleting an object
// lets the one it held back in.
func TestEntryLimits(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	tenant := tenantClient(t)
	const cluster = "limits"
	createConfig(t, &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cluster}, Spec: v1.ClusterAccessConfigSpec{ClusterName: cluster,
		Guardrails: v1.Guardrails{MaxTenantEntries: 3, Rules: []v1.GrantRule{{Name: "teams", Namespaces: v1.RuleNamespaces{Names: []string{tenantNS, strangerNS}},
			Principals: v1.RulePrincipals{Accounts: []string{account}}, MaxEntriesPerNamespace: 2}}}}})
	waitConfig(t, cluster, 30*time.Second, "to read the cluster", func(c *v1.ClusterAccessConfig) bool { return configReady(c) && c.Status.AccountID != "" })
	newObj := func(ns, name string) *v1.AccessEntry {
		t.Helper()
		ae := entry(name, roleARN(name), func(ae *v1.AccessEntry) { ae.Namespace, ae.Spec.ClusterName = ns, cluster })
		if err := tenant.Create(ctx, ae); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			deleteAndWait(t, client.ObjectKeyFromObject(ae))
			cleanupEntry(t, cluster, ae.Spec.PrincipalARN)
		})
		time.Sleep(1100 * time.Millisecond) // creation times a second apart: the order is theirs
		return ae
	}
	refused := func(ae *v1.AccessEntry, says string) {
		t.Helper()
		got := waitReason(t, ae, v1.ReasonNotPermitted, 30*time.Second)
		if msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message; !strings.Contains(msg, says) || strings.Contains(msg, strangerNS+"/") {
			t.Errorf("%s: message %q does not say %q (or names another namespace's object)", ae.Name, msg, says)
		}
		if e, ok := emuEntry(cluster, ae.Spec.PrincipalARN); ok {
			t.Errorf("%s is refused, yet EKS holds %+v", ae.Name, e)
		}
	}
	a1, a2, a3 := newObj(tenantNS, "limit-a1"), newObj(tenantNS, "limit-a2"), newObj(tenantNS, "limit-a3")
	waitReady(t, a1, 30*time.Second)
	waitReady(t, a2, 30*time.Second)
	refused(a3, "rule teams allows 2 (maxEntriesPerNamespace)")
	b1, b2 := newObj(strangerNS, "limit-b1"), newObj(strangerNS, "limit-b2")
	waitReady(t, b1, 30*time.Second)
	refused(b2, "spec.guardrails.maxTenantEntries (3)")

	platform := entry("limit-platform", roleARN("limit-platform"), func(ae *v1.AccessEntry) { ae.Spec.ClusterName = cluster })
	create(t, platform)
	waitReady(t, platform, 30*time.Second)

	deleteAndWait(t, client.ObjectKeyFromObject(a1))
	waitReady(t, a3, 30*time.Second)
	refused(b2, "spec.guardrails.maxTenantEntries (3)")
}
