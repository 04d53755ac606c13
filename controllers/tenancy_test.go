package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// The tenancy tests run the suite's manager, with the operator's own RBAC, against
// AccessEntries written by a tenant: a user whose only rights are on the
// AccessEntries of its namespaces (testenv.TenantConfig), as namespace owners have
// them in a multi-tenant install. The operator trusts only the suite's namespace
// (testNS); the tenants' namespaces are held to the rules of a ClusterAccessConfig.

const (
	tenantNS    = "tenant-a" // admitted by rule team
	strangerNS  = "tenant-z" // admitted by no rule
	tenantUser  = "tenant-a-owner"
	tenancyCAC  = "tenancy"
	breakGlass  = "tenancy-break-glass"
	victimName  = "tenancy-victim"
	handmadeKey = "tenancy-handmade"
)

// tenantClient is a client as the tenant, made once for the suite.
func tenantClient(t *testing.T) client.Client {
	t.Helper()
	tenantOnce.Do(func() {
		ctx := context.Background()
		for _, ns := range []string{tenantNS, strangerNS} {
			if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
				tenantErr = err
				return
			}
		}
		cfg, err := testenv.TenantConfig(ctx, suiteEnv, restCfg, tenantUser, tenantNS, strangerNS)
		if err != nil {
			tenantErr = err
			return
		}
		tenant, tenantErr = client.New(cfg, client.Options{Scheme: newScheme()})
	})
	if tenantErr != nil {
		t.Fatal(tenantErr)
	}
	return tenant
}

var (
	tenantOnce sync.Once
	tenant     client.Client
	tenantErr  error
)

// tenancyRule is the rule of the example: View and Edit in the tenant's
// own namespaces, groups and usernames under its own prefix, adoption of what it
// could make itself, and deletionPolicy Retain.
func tenancyRule() v1.GrantRule {
	return v1.GrantRule{
		Name:       "team",
		Namespaces: v1.RuleNamespaces{Names: []string{tenantNS}},
		Principals: v1.RulePrincipals{Accounts: []string{account}},
		AccessPolicies: []v1.PolicyGrant{
			{PolicyARN: viewPolicy},
			{PolicyARN: editPolicy, Namespaces: []v1.NamespacePattern{"{{namespace}}", "{{namespace}}-*"}},
		},
		KubernetesGroups: []v1.Pattern{"{{namespace}}-*"},
		Usernames:        []v1.Pattern{"{{namespace}}:*"},
		AllowAdoption:    true,
		AllowRetain:      true,
	}
}

// narrowRule is tenancyRule tightened: the View policy only, and EKS's username.
func narrowRule() v1.GrantRule {
	r := tenancyRule()
	r.AccessPolicies, r.Usernames = r.AccessPolicies[:1], nil
	return r
}

// tenancyConfig creates the ClusterAccessConfig of cluster with tenancyRule, and
// waits until it has read the cluster's account.
func tenancyConfig(t *testing.T, cluster string) {
	t.Helper()
	rulesConfig(t, cluster, tenancyRule())
}

// setRules replaces the guardrails of a ClusterAccessConfig.
func setRules(t *testing.T, config string, enforcement v1.Enforcement, rules ...v1.GrantRule) {
	t.Helper()
	cur := &v1.ClusterAccessConfig{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: config}, cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.Guardrails = v1.Guardrails{Rules: rules, Enforcement: enforcement}
	if err := k8s.Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
}

func TestTenantAttacks(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	tenant := tenantClient(t)
	cluster := "tenancy"
	seed := func(principal string, policyARN string, scope types.AccessScope, tags map[string]string) {
		t.Helper()
		if _, err := admin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal), Tags: tags}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal),
			PolicyArn: aws.String(policyARN), AccessScope: &scope}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cleanupEntry(t, cluster, principal) })
	}
	// What may not be taken: the creator's admin entry EKS made, a protected
	// break-glass entry, a hand-made entry holding more than the rule allows, and
	// an entry a trusted AccessEntry manages.
	seed(roleARN(breakGlass), adminPolicy, types.AccessScope{Type: types.AccessScopeTypeCluster}, nil)
	seed(roleARN(handmadeKey), editPolicy, types.AccessScope{Type: types.AccessScopeTypeNamespace, Namespaces: []string{"kube-system"}}, nil)
	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: tenancyCAC}, Spec: v1.ClusterAccessConfigSpec{
		ClusterName:      cluster,
		Guardrails:       v1.Guardrails{Rules: []v1.GrantRule{tenancyRule()}},
		UnmanagedEntries: v1.UnmanagedEntries{Protect: []string{roleARN("tenancy-break-*")}},
	}}
	createConfig(t, cac)
	waitConfig(t, cac.Name, 30*time.Second, "to read the cluster", func(c *v1.ClusterAccessConfig) bool {
		return configReady(c) && c.Status.AccountID == account && c.Status.ClusterCreatedAt != nil
	})
	victim := entry(victimName, roleARN(victimName), func(ae *v1.AccessEntry) {
		ae.Spec.ClusterName = cluster
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(adminPolicy)}
	})
	create(t, victim)
	victim = waitReady(t, victim, 30*time.Second)

	protectedPrincipals := []string{roleARN("tenancy-creator"), roleARN(breakGlass), roleARN(handmadeKey), roleARN(victimName), roleARN("tenancy-kro")}
	snapshot := func() map[string]string {
		out := map[string]string{}
		for _, e := range emu.Entries(account, region, cluster) {
			if slices.Contains(protectedPrincipals, e.PrincipalARN) {
				out[e.PrincipalARN] = fmt.Sprintf("%+v", e)
			}
		}
		return out
	}
	before := snapshot()
	if len(before) != len(protectedPrincipals) {
		t.Fatalf("want %d entries to protect, the emulator holds %v", len(protectedPrincipals), before)
	}

	attack := func(name string, mutate ...func(*v1.AccessEntry)) *v1.AccessEntry {
		return entry(name, roleARN(name), append([]func(*v1.AccessEntry){func(ae *v1.AccessEntry) {
			ae.Namespace = tenantNS
			ae.Spec.ClusterName = cluster
			ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, tenantNS)}
		}}, mutate...)...)
	}
	adopt := func(principal string) func(*v1.AccessEntry) {
		return func(ae *v1.AccessEntry) {
			ae.Spec.PrincipalARN = principal
			ae.Annotations = map[string]string{v1.AdoptAnnotation: "true"}
			ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy, tenantNS)}
		}
	}
	var az []v1.ScopeNamespace
	for c := 'a'; c <= 'z'; c++ {
		az = append(az, v1.ScopeNamespace(string(c)+"*"))
	}
	rows := []struct {
		name   string
		ae     *v1.AccessEntry
		reason string
		// want are fragments of the message: what is refused, the rule, the fix.
		want []string
	}{
		{"a group bound to cluster-admin", attack("atk-group", func(ae *v1.AccessEntry) { ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"cluster-admins"} }),
			v1.ReasonNotPermitted, []string{`spec.kubernetesGroups "cluster-admins" is not allowed (allowed: tenant-a-*)`, "rule team", "Fix:"}},
		{"a privileged username", attack("atk-username", func(ae *v1.AccessEntry) { ae.Spec.Username = "admin" }),
			v1.ReasonNotPermitted, []string{`spec.username "admin" is not allowed (allowed: tenant-a:*)`, "rule team", "Fix:"}},
		{"another tenant's username prefix", attack("atk-username-b", func(ae *v1.AccessEntry) { ae.Spec.Username = "tenant-b:{{SessionName}}" }),
			v1.ReasonNotPermitted, []string{`spec.username "tenant-b:{{SessionName}}" is not allowed`, "rule team"}},
		{"Edit in kube-system", attack("atk-kube-system", func(ae *v1.AccessEntry) {
			ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, "kube-system")}
		}),
			v1.ReasonNotPermitted, []string{"AmazonEKSEditPolicy in namespaces kube-system is not allowed (allowed: tenant-a, tenant-a-*", "rule team", "Fix:"}},
		{"Edit on k*", attack("atk-k-star", func(ae *v1.AccessEntry) { ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, "k*")} }),
			v1.ReasonNotPermitted, []string{"in namespaces k* is not allowed", "a wildcard must not match beyond them", "rule team"}},
		{"Edit on a* to z*, every namespace", attack("atk-a-to-z", func(ae *v1.AccessEntry) { ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, az...)} }),
			v1.ReasonNotPermitted, []string{"in namespaces a*, b*", "z* is not allowed", "rule team"}},
		{"Edit on a wildcard just past the tenant's prefix", attack("atk-prefix", func(ae *v1.AccessEntry) { ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, "tenant-a*")} }),
			v1.ReasonNotPermitted, []string{"in namespaces tenant-a* is not allowed", "rule team"}},
		{"View at cluster scope", attack("atk-cluster-scope", func(ae *v1.AccessEntry) { ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)} }),
			v1.ReasonNotPermitted, []string{"AmazonEKSViewPolicy at cluster scope is not allowed", "rule team"}},
		{"cluster admin", attack("atk-admin", func(ae *v1.AccessEntry) { ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(adminPolicy, tenantNS)} }),
			v1.ReasonNotPermitted, []string{"AmazonEKSClusterAdminPolicy is not allowed (allowed: AmazonEKSViewPolicy, AmazonEKSEditPolicy)", "rule team"}},
		{"Edit of another partition", attack("atk-partition", func(ae *v1.AccessEntry) {
			ae.Spec.AccessPolicies = []v1.AccessPolicy{policy("arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSEditPolicy", tenantNS)}
		}), v1.ReasonNotPermitted, []string{"spec.accessPolicies AmazonEKSEditPolicy is not allowed", "rule team"}},
		{"a principal of another account", attack("atk-foreign", func(ae *v1.AccessEntry) { ae.Spec.PrincipalARN = "arn:aws:iam::" + remoteAccount + ":role/anything" }),
			v1.ReasonNotPermitted, []string{"spec.principalARN arn:aws:iam::" + remoteAccount + ":role/anything is not allowed", "roles and users of account " + account, "rule team"}},
		{"a node role entry", attack("atk-node", func(ae *v1.AccessEntry) { ae.Spec.Type, ae.Spec.AccessPolicies = v1.TypeEC2Linux, nil }),
			v1.ReasonNotPermitted, []string{"spec.type EC2_LINUX is not allowed (allowed: STANDARD)", "rule team"}},
		{"adopting the cluster creator's admin entry", attack("atk-adopt-creator", adopt(roleARN("tenancy-creator"))),
			v1.ReasonNotPermitted, []string{"may not be adopted", "EKS made it for the cluster's creator", "Fix:"}},
		{"adopting the entry EKS made for a capability", attack("atk-adopt-capability", adopt(roleARN("tenancy-kro"))),
			v1.ReasonNotPermitted, []string{"may not be adopted", "EKS made it, or made it for its own components", "AmazonEKSKROPolicy", "Fix:"}},
		{"adopting a protected break-glass entry", attack("atk-adopt-protected", adopt(roleARN(breakGlass))),
			v1.ReasonNotPermitted, []string{"spec.principalARN " + roleARN(breakGlass) + " is reserved for the platform team", "rule team"}},
		{"adopting an entry that holds more than the rule", attack("atk-adopt-more", adopt(roleARN(handmadeKey))),
			v1.ReasonNotPermitted, []string{"may not be adopted", "the existing entry holds AmazonEKSEditPolicy in namespaces kube-system is not allowed", "rule team"}},
		{"naming a principal a trusted AccessEntry manages", attack("atk-take", adopt(roleARN(victimName))),
			v1.ReasonNotPermitted, []string{"spec.principalARN " + roleARN(victimName) + " is reserved for the platform team", "rule team"}},
		{"a cluster with no ClusterAccessConfig", attack("atk-no-config", func(ae *v1.AccessEntry) { ae.Spec.ClusterName = "other" }),
			v1.ReasonNotPermitted, []string{"namespace tenant-a is not one the operator trusts (--trusted-namespaces: " + testNS + ")", "no ClusterAccessConfig for cluster other", "Fix:"}},
		{"a namespace no rule admits", attack("atk-stranger", func(ae *v1.AccessEntry) { ae.Namespace = strangerNS }),
			v1.ReasonNotPermitted, []string{"no rule of ClusterAccessConfig " + tenancyCAC + " admits namespace " + strangerNS, "Fix:"}},
	}
	for _, row := range rows {
		if err := tenant.Create(ctx, row.ae); err != nil {
			t.Fatalf("%s: the tenant may create AccessEntries in its namespaces: %v", row.name, err)
		}
		key := client.ObjectKeyFromObject(row.ae)
		t.Cleanup(func() { deleteAndWait(t, key) })
	}
	allowed := attack("tenant-allowed", func(ae *v1.AccessEntry) {
		ae.Spec.Username = "tenant-a:{{SessionName}}"
		ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"tenant-a-devs"}
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, tenantNS, "tenant-a-*"), policy(viewPolicy, tenantNS)}
	})
	if err := tenant.Create(ctx, allowed); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, client.ObjectKeyFromObject(allowed)) })

	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			got := waitReason(t, row.ae, row.reason, 30*time.Second)
			msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message
			for _, w := range append(row.want, "Fix:") {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not say %q", msg, w)
				}
			}
			if strings.Contains(msg, testNS+"/") {
				t.Errorf("message %q tells the tenant about the platform's objects", msg)
			}
			if !meta.IsStatusConditionTrue(got.Status.Conditions, v1.ConditionStalled) {
				t.Errorf("not Stalled: %s", conditions(got))
			}
			if row.ae.Spec.ClusterName == cluster && !slices.Contains(protectedPrincipals, row.ae.Spec.PrincipalARN) {
				if e, ok := emuEntry(cluster, row.ae.Spec.PrincipalARN); ok {
					t.Errorf("an entry was granted: %+v", e)
				}
			}
		})
	}
	waitReady(t, allowed, 30*time.Second)
	if e := mustEmuEntry(t, cluster, allowed.Spec.PrincipalARN); e.Username != "tenant-a:{{SessionName}}" || len(e.Policies) != 2 {
		t.Errorf("the allowed entry: %+v", e)
	}
	if after := snapshot(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("an entry the tenant may not take changed:\n before %v\n after  %v", before, after)
	}

	t.Run("forged ownership tags", func(t *testing.T) {
		// Someone allowed eks:TagResource marks the trusted object's entry as the
		// tenant's, then the tenant declares it: Conflict, never a write.
		forged := attack("atk-forged", func(ae *v1.AccessEntry) { ae.Spec.PrincipalARN = roleARN(victimName) })
		// The victim's entry is an established one, not one made seconds ago.
		emu.Backdate(account, region, cluster, roleARN(victimName), time.Hour)
		if _, err := admin.TagResource(ctx, &eks.TagResourceInput{ResourceArn: aws.String(victim.Status.AccessEntryARN),
			Tags: ownership.Owner{Instance: instance, Namespace: tenantNS, Name: forged.Name}.Tags()}); err != nil {
			t.Fatal(err)
		}
		writesBefore := writes()
		if err := tenant.Create(ctx, forged); err != nil {
			t.Fatal(err)
		}
		got := waitReason(t, forged, v1.ReasonNotPermitted, 30*time.Second)
		if msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message; !strings.Contains(msg, "is reserved for the platform team") || strings.Contains(msg, testNS+"/") {
			t.Errorf("message %q: want the principal reserved, with no word of the platform's object", msg)
		}
		e := mustEmuEntry(t, cluster, roleARN(victimName))
		wantPolicies(t, e, map[string]string{adminPolicy: "cluster:"})
		// Deleting the tenant's object deletes nothing, and says so.
		deleteAndWait(t, client.ObjectKeyFromObject(forged))
		if _, ok := emuEntry(cluster, roleARN(victimName)); !ok {
			t.Fatal("deleting the tenant's object deleted the entry it forged tags on")
		}
		if n := writes() - writesBefore - calls("CreateAccessEntry"); n > 0 {
			// The only writes allowed: the victim's own operator putting its tags back.
			e := mustEmuEntry(t, cluster, roleARN(victimName))
			if e.Tags[ownership.TagName] != victimName && e.Tags[ownership.TagName] != forged.Name {
				t.Errorf("%d writes, and the entry's tags are %v", n, e.Tags)
			}
		}
		eventually(t, 10*time.Second, "a NotRevoked event for the tenant's object", func() (bool, string) {
			return hasEvent(forged.Namespace, forged.Name, "NotRevoked", "revoked nothing"), "no event yet"
		})
	})

	t.Run("the tenant cannot write status or label its namespace", func(t *testing.T) {
		cur := &v1.AccessEntry{}
		if err := tenant.Get(ctx, client.ObjectKeyFromObject(allowed), cur); err != nil {
			t.Fatal(err)
		}
		forgedStatus := cur.DeepCopy()
		forgedStatus.Status.AccessEntryARN = victim.Status.AccessEntryARN
		if err := tenant.Status().Patch(ctx, forgedStatus, client.MergeFrom(cur)); !apierrors.IsForbidden(err) {
			t.Errorf("the tenant patched status (%v): the operator's record of ownership would be forgeable", err)
		}
		ns := &corev1.Namespace{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: tenantNS}, ns); err != nil {
			t.Fatal(err)
		}
		labelled := ns.DeepCopy()
		labelled.Labels = map[string]string{"tenant": "true"}
		if err := tenant.Patch(ctx, labelled, client.MergeFrom(ns)); !apierrors.IsForbidden(err) {
			t.Errorf("the tenant labelled its namespace (%v): a selector rule would admit it", err)
		}
	})
}

// hasEvent reports whether an event of the object with the reason and a note
// containing note was recorded.
func hasEvent(namespace, name, reason, note string) bool {
	list := &eventsv1.EventList{}
	if err := k8s.List(context.Background(), list, client.InNamespace(namespace)); err != nil {
		return false
	}
	return slices.ContainsFunc(list.Items, func(e eventsv1.Event) bool {
		return e.Regarding.Name == name && e.Reason == reason && strings.Contains(e.Note, note)
	})
}

// TestTighteningRevokes tightens the rules under an AccessEntry that was Ready: a
// dry run (enforcement Report) says what would go and changes nothing; Revoke
// removes what the rule no longer allows within a resync, keeps and heals what it
// still allows, and deletes the whole entry once the namespace loses its rule;
// loosening again brings everything back.
func TestTighteningRevokes(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	tenant := tenantClient(t)
	stop, err := startManager(shardLabel+"=revoke", 2*time.Second, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	cluster := "tightened"
	tenancyConfig(t, cluster)

	principal := roleARN("tightened-dev")
	ae := entry("tightened", principal, func(ae *v1.AccessEntry) {
		ae.Namespace, ae.Labels = tenantNS, map[string]string{shardLabel: "revoke"}
		ae.Spec.ClusterName = cluster
		ae.Spec.Username = "tenant-a:{{SessionName}}"
		ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"tenant-a-devs"}
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, tenantNS), policy(viewPolicy, tenantNS)}
	})
	if err := tenant.Create(ctx, ae); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, client.ObjectKeyFromObject(ae)) })
	waitReady(t, ae, 30*time.Second)
	full := mustEmuEntry(t, cluster, principal)

	narrow := narrowRule()

	waitMessage := func(what string, fragments ...string) *v1.AccessEntry {
		t.Helper()
		var got *v1.AccessEntry
		eventually(t, 30*time.Second, what, func() (bool, string) {
			got = get(t, client.ObjectKeyFromObject(ae))
			c := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady)
			if c == nil || c.Reason != v1.ReasonNotPermitted {
				return false, conditions(got)
			}
			for _, f := range fragments {
				if !strings.Contains(c.Message, f) {
					return false, c.Message
				}
			}
			return true, ""
		})
		return got
	}

	t.Run("report only", func(t *testing.T) {
		setRules(t, cluster, v1.EnforcementReport, narrow)
		got := waitMessage("a report of what would be revoked", "rule team", "with enforcement Revoke the operator would remove",
			"access policy AmazonEKSEditPolicy", `username "tenant-a:{{SessionName}}"`)
		if !slices.Contains(got.Status.Revoked, "access policy AmazonEKSEditPolicy") {
			t.Errorf("status.revoked %q", got.Status.Revoked)
		}
		time.Sleep(3 * time.Second) // a resync
		if now := mustEmuEntry(t, cluster, principal); fmt.Sprint(now) != fmt.Sprint(full) {
			t.Fatalf("the dry run changed EKS:\n before %+v\n after  %+v", full, now)
		}
	})

	t.Run("revoke what the rule no longer allows", func(t *testing.T) {
		setRules(t, cluster, v1.EnforcementRevoke, narrow)
		got := waitMessage("the revocation", "rule team", "revoked: access policy AmazonEKSEditPolicy", `username "tenant-a:{{SessionName}}"`)
		e := mustEmuEntry(t, cluster, principal)
		wantPolicies(t, e, map[string]string{viewPolicy: "namespace:" + tenantNS})
		if e.Username == "tenant-a:{{SessionName}}" || !slices.Equal(e.KubernetesGroups, []string{"tenant-a-devs"}) {
			t.Errorf("username %q groups %q: want EKS's username and the allowed group kept", e.Username, e.KubernetesGroups)
		}
		if !slices.Contains(got.Status.Revoked, "access policy AmazonEKSEditPolicy") || got.Status.Username != e.Username {
			t.Errorf("status: revoked %q, username %q (EKS %q)", got.Status.Revoked, got.Status.Username, e.Username)
		}
		eventually(t, 10*time.Second, "a Revoked event", func() (bool, string) {
			return hasEvent(ae.Namespace, ae.Name, "Revoked", "AmazonEKSEditPolicy"), ""
		})
	})

	t.Run("drift healing goes on: what is allowed comes back, what is not stays out", func(t *testing.T) {
		if _, err := admin.DisassociateAccessPolicy(ctx, &eks.DisassociateAccessPolicyInput{ClusterName: aws.String(cluster),
			PrincipalArn: aws.String(principal), PolicyArn: aws.String(viewPolicy)}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal),
			PolicyArn: aws.String(editPolicy), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster}}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "View back and the cluster-wide Edit gone", func() (bool, string) {
			e := mustEmuEntry(t, cluster, principal)
			return fmt.Sprint(policiesOf(e)) == fmt.Sprint(map[string]string{viewPolicy: "namespace:" + tenantNS}), fmt.Sprint(policiesOf(e))
		})
	})

	t.Run("the namespace loses its rule: the whole entry goes", func(t *testing.T) {
		other := tenancyRule()
		other.Name, other.Namespaces = "others", v1.RuleNamespaces{Names: []string{"someone-else"}}
		setRules(t, cluster, v1.EnforcementRevoke, other)
		got := waitMessage("the entry revoked", "admits namespace "+tenantNS, "revoked: the EKS access entry of "+principal)
		if _, ok := emuEntry(cluster, principal); ok {
			t.Fatal("the entry is still in EKS")
		}
		if got.Status.Identity != nil || got.Status.AccessEntryARN != "" {
			t.Errorf("status still records the deleted entry: %+v", got.Status)
		}
	})

	t.Run("loosened again: back to Ready", func(t *testing.T) {
		setRules(t, cluster, v1.EnforcementRevoke, tenancyRule())
		got := waitReady(t, ae, 30*time.Second)
		e := mustEmuEntry(t, cluster, principal)
		if e.Username != "tenant-a:{{SessionName}}" || len(e.Policies) != 2 || len(got.Status.Revoked) != 0 {
			t.Errorf("entry %+v, status.revoked %q", e, got.Status.Revoked)
		}
	})
}

// TestRefusedBackOnRetainedEntry: a tenant object that moved away under Retain,
// and comes back to its retained entry after the rule was tightened, has what the
// rule no longer allows revoked from that entry: the entry is its own again, not
// one it may keep unjudged because it was elsewhere for a while.
func TestRefusedBackOnRetainedEntry(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	tenant := tenantClient(t)
	home, away := "retained-home", "retained-away"
	tenancyConfig(t, home)
	tenancyConfig(t, away)
	principal := roleARN("retained-tenant")
	ae := entry("retained-tenant", principal, func(ae *v1.AccessEntry) {
		ae.Namespace = tenantNS
		ae.Spec.ClusterName = home
		ae.Spec.DeletionPolicy = v1.DeletionPolicyRetain
		ae.Spec.Username = "tenant-a:{{SessionName}}"
		ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"tenant-a-devs"}
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, tenantNS), policy(viewPolicy, tenantNS)}
	})
	if err := tenant.Create(ctx, ae); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		deleteAndWait(t, client.ObjectKeyFromObject(ae))
		cleanupEntry(t, home, principal)
		cleanupEntry(t, away, principal)
	})
	homeARN := waitReady(t, ae, 30*time.Second).Status.AccessEntryARN

	update(t, ae, func(ae *v1.AccessEntry) { ae.Spec.ClusterName = away })
	moved := waitReady(t, ae, 30*time.Second)
	if moved.Status.Identity == nil || moved.Status.Identity.ClusterName != away ||
		!slices.ContainsFunc(moved.Status.RetainedEntries, func(e v1.RetainedEntry) bool { return e.ARN == homeARN }) {
		t.Fatalf("after the move: identity %+v, retained %+v", moved.Status.Identity, moved.Status.RetainedEntries)
	}

	setRules(t, home, v1.EnforcementRevoke, narrowRule())

	update(t, ae, func(ae *v1.AccessEntry) { ae.Spec.ClusterName = home })
	var got *v1.AccessEntry
	// Edit goes either way: pruning judges the retained entry against the narrowed
	// rule (TestLeftoversAreJudged), or the object revokes it once back on it.
	eventually(t, 30*time.Second, "NotPermitted, back on the retained entry, with the Edit policy revoked", func() (bool, string) {
		got = get(t, client.ObjectKeyFromObject(ae))
		c := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady)
		e, _ := emuEntry(home, principal)
		return c != nil && c.Reason == v1.ReasonNotPermitted && got.Status.AccessEntryARN == homeARN && len(e.Policies) == 1, conditions(got)
	})
	e := mustEmuEntry(t, home, principal)
	wantPolicies(t, e, map[string]string{viewPolicy: "namespace:" + tenantNS})
	if e.Username == "tenant-a:{{SessionName}}" || e.AccessEntryARN != homeARN {
		t.Errorf("the retained entry after the revocation: %+v (ARN was %s)", e, homeARN)
	}
	if got.Status.Identity == nil || got.Status.Identity.ClusterName != home || got.Status.AccessEntryARN != homeARN ||
		slices.ContainsFunc(got.Status.RetainedEntries, func(e v1.RetainedEntry) bool { return e.ARN == homeARN }) {
		t.Errorf("status does not take the entry back as the current one: identity %+v, arn %s, retained %+v",
			got.Status.Identity, got.Status.AccessEntryARN, got.Status.RetainedEntries)
	}
}

// TestRetainedEntryReadopted: an entry kept by deletionPolicy Retain carries the
// ownership tags of a deleted object; a new object may adopt it.
func TestRetainedEntryReadopted(t *testing.T) {
	testenv.RequireControlPlane(t)
	principal := roleARN("retained-readopted")
	first := entry("retained-first", principal, func(ae *v1.AccessEntry) {
		ae.Spec.DeletionPolicy = v1.DeletionPolicyRetain
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)}
	})
	create(t, first)
	kept := waitReady(t, first, 30*time.Second).Status.AccessEntryARN
	deleteAndWait(t, client.ObjectKeyFromObject(first))
	t.Cleanup(func() { cleanupEntry(t, "demo", principal) })
	if e := mustEmuEntry(t, "demo", principal); e.Tags[ownership.TagName] != first.Name {
		t.Fatalf("the retained entry: %+v", e)
	}
	second := entry("retained-second", principal, func(ae *v1.AccessEntry) {
		ae.Annotations = map[string]string{v1.AdoptAnnotation: "true"}
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)}
	})
	create(t, second)
	got := waitReady(t, second, 30*time.Second)
	if e := mustEmuEntry(t, "demo", principal); got.Status.AccessEntryARN != kept || e.Tags[ownership.TagName] != second.Name {
		t.Fatalf("status %s (kept %s), tags %v", got.Status.AccessEntryARN, kept, e.Tags)
	}
}

// TestRefusedObjectsDoNotShieldFromPruning: an AccessEntry the guardrails refuse
// does not count as declaring its principal, so pruning deletes the unmanaged
// entry it names.
func TestRefusedObjectsDoNotShieldFromPruning(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	tenant := tenantClient(t)
	cluster := "shielded"
	principal := roleARN("shielded-stray")
	if _, err := admin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupEntry(t, cluster, principal) })
	refused := entry("shield", principal, func(ae *v1.AccessEntry) {
		ae.Namespace, ae.Spec.ClusterName = strangerNS, cluster // no rule admits tenant-z
	})
	if err := tenant.Create(ctx, refused); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, client.ObjectKeyFromObject(refused)) })
	waitReason(t, refused, v1.ReasonNotPermitted, 30*time.Second)
	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cluster}, Spec: v1.ClusterAccessConfigSpec{
		ClusterName: cluster, UnmanagedEntries: v1.UnmanagedEntries{Policy: v1.UnmanagedDelete}}}
	createConfig(t, cac)
	waitConfig(t, cac.Name, 30*time.Second, "to prune the stray entry", func(c *v1.ClusterAccessConfig) bool {
		return configReady(c) && slices.ContainsFunc(c.Status.UnmanagedEntries, func(u v1.UnmanagedEntry) bool {
			return u.PrincipalARN == principal && u.Action == "Deleted"
		})
	})
	if _, ok := emuEntry(cluster, principal); ok {
		t.Fatal("the stray entry is still there")
	}
}
