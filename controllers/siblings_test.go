package controllers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// docsRecipe is the YAML block of the section "Rules: what a namespace may grant"
// of docs/security.md, as the guardrails of a ClusterAccessConfig.
func docsRecipe(t *testing.T) v1.Guardrails {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Rules: what a namespace may grant\n")
	section, _, _ = strings.Cut(section, "\n## ")
	_, block, found := strings.Cut(section, "```yaml\n")
	block, _, closed := strings.Cut(block, "```")
	if !ok || !found || !closed {
		t.Fatal("docs/security.md has no YAML block under \"## Rules: what a namespace may grant\"")
	}
	var recipe struct {
		Guardrails v1.Guardrails `json:"guardrails"`
	}
	if err := yaml.UnmarshalStrict([]byte(block), &recipe); err != nil {
		t.Fatalf("the recipe of docs/security.md: %v", err)
	}
	if len(recipe.Guardrails.Rules) == 0 {
		t.Fatal("the recipe of docs/security.md has no rules")
	}
	return recipe.Guardrails
}

// TestDocsRecipeKeepsSiblingsApart holds the recipe of docs/security.md to what the
// page promises: with team-a and team-a-admin admitted, team-a (a tenant with
// rights in its namespace only) can reach none of team-a-admin's scope, groups or
// roles, and nothing is written to EKS for its attempts; team-a-admin's own entry
// becomes Ready although team-a named its role first; team-a keeps what reaches no
// admitted namespace (team-a-dev).
func TestDocsRecipeKeepsSiblingsApart(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	guardrails := docsRecipe(t)
	const cluster, teamA, teamAdmin = "siblings", "team-a", "team-a-admin"
	for i := range guardrails.Rules {
		names := &guardrails.Rules[i].Namespaces.Names
		for _, ns := range []string{teamA, teamAdmin} {
			if !slices.Contains(*names, ns) {
				*names = append(*names, ns)
			}
		}
	}
	tenants := map[string]client.Client{}
	for _, ns := range []string{teamA, teamAdmin} {
		if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		cfg, err := testenv.TenantConfig(ctx, suiteEnv, restCfg, ns+"-owner", ns)
		if err != nil {
			t.Fatal(err)
		}
		if tenants[ns], err = client.New(cfg, client.Options{Scheme: newScheme()}); err != nil {
			t.Fatal(err)
		}
	}
	createConfig(t, &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cluster}, Spec: v1.ClusterAccessConfigSpec{ClusterName: cluster, Guardrails: guardrails}})
	waitConfig(t, cluster, 30*time.Second, "to read the cluster", func(c *v1.ClusterAccessConfig) bool { return configReady(c) && c.Status.AccountID == account })

	tenantRole := func(ns, name string) string { return "arn:aws:iam::" + account + ":role/tenants/" + ns + "/" + name }
	object := func(ns, name, principal string, mutate func(*v1.AccessEntry)) *v1.AccessEntry {
		ae := entry(name, principal, func(ae *v1.AccessEntry) { ae.Namespace, ae.Spec.ClusterName = ns, cluster }, mutate)
		if err := tenants[ns].Create(ctx, ae); err != nil {
			t.Fatalf("%s may create AccessEntries in its namespace: %v", ns, err)
		}
		t.Cleanup(func() { deleteAndWait(t, client.ObjectKeyFromObject(ae)) })
		return ae
	}
	edit := func(scopes ...v1.ScopeNamespace) func(*v1.AccessEntry) {
		return func(ae *v1.AccessEntry) { ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, scopes...)} }
	}
	adminRole := tenantRole(teamAdmin, "deployer")
	attacks := []struct {
		name string
		ae   *v1.AccessEntry
		// want are fragments of the message: the value refused, and why.
		want []string
	}{
		{"Edit in the sibling's namespace", object(teamA, "sib-scope", tenantRole(teamA, "scope"), edit(teamA, teamAdmin)),
			[]string{"AmazonEKSEditPolicy in namespaces team-a-admin is not allowed", "another namespace this config admits"}},
		{"Edit on a wildcard that matches the sibling", object(teamA, "sib-wildcard", tenantRole(teamA, "wildcard"), edit("team-a-*")),
			[]string{"AmazonEKSEditPolicy in namespaces team-a-* is not allowed", "another namespace this config admits"}},
		{"the sibling's groups", object(teamA, "sib-groups", tenantRole(teamA, "groups"), func(ae *v1.AccessEntry) {
			ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"team-a-admin:ops", "team-a-admin-ops"}
		}), []string{`spec.kubernetesGroups "team-a-admin:ops" is not allowed`, `spec.kubernetesGroups "team-a-admin-ops" is not allowed`}},
		{"the sibling's role, first", object(teamA, "sib-role", adminRole, edit(teamA)),
			[]string{"spec.principalARN " + adminRole + " is not allowed"}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			got := waitReason(t, a.ae, v1.ReasonNotPermitted, 30*time.Second)
			msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message
			for _, w := range append(a.want, "Fix:") {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not say %q", msg, w)
				}
			}
			if e, ok := emuEntry(cluster, a.ae.Spec.PrincipalARN); ok && a.ae.Spec.PrincipalARN != adminRole {
				t.Errorf("EKS holds an entry for team-a's attempt: %+v", e)
			}
		})
	}
	if _, ok := emuEntry(cluster, adminRole); ok {
		t.Fatal("team-a's attempt on team-a-admin's role wrote an entry")
	}

	t.Run("the sibling's own entry is Ready", func(t *testing.T) {
		own := object(teamAdmin, "sib-admin-own", adminRole, func(ae *v1.AccessEntry) {
			ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"team-a-admin:ops"}
			ae.Spec.Username = "team-a-admin:{{SessionName}}"
			edit(teamAdmin, "team-a-admin-*")(ae)
		})
		waitReady(t, own, 30*time.Second)
		e := mustEmuEntry(t, cluster, adminRole)
		if e.Username != "team-a-admin:{{SessionName}}" || !slices.Equal(e.KubernetesGroups, []string{"team-a-admin:ops"}) {
			t.Errorf("team-a-admin's entry: %+v", e)
		}
		wantPolicies(t, e, map[string]string{editPolicy: "namespace:team-a-admin,team-a-admin-*"})
		if got := get(t, client.ObjectKeyFromObject(attacks[3].ae)); meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Reason != v1.ReasonNotPermitted {
			t.Errorf("team-a's object for the same role: %s", conditions(got))
		}
	})

	t.Run("what reaches no admitted namespace stays team-a's", func(t *testing.T) {
		ae := object(teamA, "sib-own", tenantRole(teamA, "deployer"), func(ae *v1.AccessEntry) {
			ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"team-a:admin-ops"}
			edit(teamA, "team-a-dev", "team-a-d*")(ae)
		})
		waitReady(t, ae, 30*time.Second)
		wantPolicies(t, mustEmuEntry(t, cluster, ae.Spec.PrincipalARN), map[string]string{editPolicy: "namespace:team-a,team-a-d*,team-a-dev"})
	})
}

// TestSiblingAdmittedLater: a namespace a selector starts admitting (created with
// the label, then unlabelled) changes what its prefix-sibling may hold at once,
// not at the next verification: the scope that reaches it is revoked, and comes
// back when the selector lets it go.
func TestSiblingAdmittedLater(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	const cluster, home, sibling = "siblings-selected", "sel-a", "sel-a-x"
	selected := map[string]string{"siblings.test/admitted": "true"}
	createConfig(t, &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cluster}, Spec: v1.ClusterAccessConfigSpec{ClusterName: cluster,
		Guardrails: v1.Guardrails{Rules: []v1.GrantRule{
			{Name: "named", Namespaces: v1.RuleNamespaces{Names: []string{home}}, Principals: v1.RulePrincipals{Accounts: []string{account}},
				AccessPolicies: []v1.PolicyGrant{{PolicyARN: editPolicy, Namespaces: []v1.NamespacePattern{"{{namespace}}", "{{namespace}}-*"}}}},
			{Name: "selected", Namespaces: v1.RuleNamespaces{Selector: &metav1.LabelSelector{MatchLabels: selected}}, AccessPolicies: []v1.PolicyGrant{{PolicyARN: editPolicy}}},
		}}}})
	waitConfig(t, cluster, 30*time.Second, "to read the cluster", func(c *v1.ClusterAccessConfig) bool { return configReady(c) && c.Status.AccountID == account })
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: home}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	principal := roleARN("sel-a-deployer")
	ae := entry("sel-a-deployer", principal, func(ae *v1.AccessEntry) {
		ae.Namespace, ae.Spec.ClusterName = home, cluster
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, home, sibling)}
	})
	create(t, ae)
	waitReady(t, ae, 30*time.Second)
	wantPolicies(t, mustEmuEntry(t, cluster, principal), map[string]string{editPolicy: "namespace:sel-a,sel-a-x"})

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sibling, Labels: selected}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, ns) })
	got := waitReason(t, ae, v1.ReasonNotPermitted, 20*time.Second)
	msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message
	for _, w := range []string{"in namespaces sel-a-x is not allowed", "another namespace this config admits claims it"} {
		if !strings.Contains(msg, w) {
			t.Errorf("message %q does not say %q", msg, w)
		}
	}
	eventually(t, 20*time.Second, "Edit revoked from the entry", func() (bool, string) {
		e := mustEmuEntry(t, cluster, principal)
		return len(e.Policies) == 0, fmt.Sprint(policiesOf(e))
	})

	unlabelled := ns.DeepCopy()
	unlabelled.Labels = nil
	if err := k8s.Patch(ctx, unlabelled, client.MergeFrom(ns)); err != nil {
		t.Fatal(err)
	}
	waitReady(t, ae, 20*time.Second)
	wantPolicies(t, mustEmuEntry(t, cluster, principal), map[string]string{editPolicy: "namespace:sel-a,sel-a-x"})
}
