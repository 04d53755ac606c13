package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

const (
	// sibling is named with soak-t1 as its prefix: a rule's {{namespace}}-*
	// patterns must not let soak-t1 reach what soak-t1-admin's cover.
	sibling = "soak-t1-admin"
	// probeNS creates one allowed object at intervals, to time how long a tenant
	// waits while the others attack.
	probeNS = "soak-probe"
	// protectPrefix is the platform's protected principals (spec.unmanagedEntries.protect).
	protectPrefix = "arn:aws:iam::" + account + ":role/soak/protected-"
)

var (
	clusters = []string{"soak-a", "soak-b"}
	// tenants are the namespaces the driver and the adversary act in, each through
	// a client with only that namespace's rights.
	tenants = []string{"soak-t1", "soak-t2", sibling}
	// protected are hand-made entries of principals protect names, in both clusters.
	protected = []string{protectPrefix + "0"}
)

// ruleSets are the guardrails the driver switches a cluster between: loose,
// tight (only View in ns-* namespaces, no username, one group), one where only
// soak-t1 and its sibling have a rule, and broad, whose principal pattern admits
// every role under role/soak/ (the platform's and the other tenants' included),
// so that only the reservation and first-come rules stand between a squatter and
// a principal. Every set has the same rules for the probe namespace and for
// the requests' time-bound grants.
var ruleSets = map[string][]v1.GrantRule{
	"loose": {tenantRule(tenants, "{{namespace}}-*", []string{"AmazonEKSViewPolicy", "AmazonEKSEditPolicy", "AmazonEKSAdminPolicy"}, true, []string{"group-*", "{{namespace}}-*"}, "user-*:*"), probeRule(), oncallRule()},
	"tight": {tenantRule(tenants, "{{namespace}}-*", []string{"AmazonEKSViewPolicy"}, false, []string{"group-0"}, ""), probeRule(), oncallRule()},
	"t1":    {tenantRule([]string{tenants[0], sibling}, "{{namespace}}-*", []string{"AmazonEKSViewPolicy", "AmazonEKSEditPolicy"}, true, []string{"group-*", "{{namespace}}-*"}, "user-*:*"), probeRule(), oncallRule()},
	"broad": {broadRule(), probeRule(), oncallRule()},
}

// broadRule admits every role under role/soak/ and lets the tenants adopt
// existing entries: only the reservation keeps them off the platform's
// break-glass entry.
func broadRule() v1.GrantRule {
	r := tenantRule(tenants, "*", []string{"AmazonEKSViewPolicy", "AmazonEKSEditPolicy"}, false, []string{"group-*", "{{namespace}}-*", "break-glass"}, "user-*:*")
	r.AllowAdoption = true
	return r
}

// ruleExtras are the GrantRule fields of issue 25 that api/v1alpha1 may not
// have yet: the soak writes them as JSON when the installed CRD knows them (the
// API server would drop them otherwise) and expects what they say only then.
// When the fields are in the Go type, set them in tenantRule instead and read
// them in extrasOf: one line each.
type ruleExtras struct {
	// allowRetain: deletionPolicy Retain is honoured for the tenants' objects.
	allowRetain bool
	// maxEntriesPerNamespace caps the entries one namespace holds in the cluster; 0 leaves the default.
	maxEntriesPerNamespace int
}

// extras are the ruleExtras of the tenants' rule of each set.
var extras = map[string]ruleExtras{
	"loose": {allowRetain: true},
	"tight": {maxEntriesPerNamespace: 10},
	"t1":    {},
	"broad": {},
}

// tenantRule admits the namespaces, with principals under role/soak/<principals>,
// policies scoped to ns-* and the namespace's own {{namespace}}-* namespaces.
func tenantRule(namespaces []string, principals string, policies []string, clusterScope bool, groups []string, username string) v1.GrantRule {
	r := v1.GrantRule{Name: "tenants", Namespaces: v1.RuleNamespaces{Names: namespaces},
		Principals: v1.RulePrincipals{ARNs: []v1.Pattern{v1.Pattern("arn:aws:iam::" + account + ":role/soak/" + principals)}}}
	for _, g := range groups {
		r.KubernetesGroups = append(r.KubernetesGroups, v1.Pattern(g))
	}
	for _, p := range policies {
		r.AccessPolicies = append(r.AccessPolicies, v1.PolicyGrant{PolicyARN: policyARN(p), ClusterScope: clusterScope, Namespaces: []v1.NamespacePattern{"ns-*", "{{namespace}}-*"}})
	}
	if username != "" {
		r.Usernames = []v1.Pattern{v1.Pattern(username)}
	}
	return r
}

// probeRule lets the probe namespace give View in ns-0 to its own principals.
func probeRule() v1.GrantRule {
	// The probe never deletes its objects: room for every one the run makes.
	return v1.GrantRule{Name: "probe", Namespaces: v1.RuleNamespaces{Names: []string{probeNS}}, MaxEntriesPerNamespace: 1000,
		Principals:     v1.RulePrincipals{ARNs: []v1.Pattern{"arn:aws:iam::" + account + ":role/soak/{{namespace}}-*"}},
		AccessPolicies: []v1.PolicyGrant{{PolicyARN: policyARN("AmazonEKSViewPolicy"), Namespaces: []v1.NamespacePattern{"ns-*"}}}}
}

// ruleOf is the tenants' rule of a set (the probe's is never attacked).
func ruleOf(set string) v1.GrantRule { return ruleSets[set][0] }

// rulesOf are the rules of a set as the configs hold them: the tenants' rule
// with the extras the installed CRD knows. The soak's model judges by these, so
// that it judges by what the operator reads.
func rulesOf(set string, f features) []v1.GrantRule {
	rules := make([]v1.GrantRule, len(ruleSets[set]))
	for i := range rules {
		ruleSets[set][i].DeepCopyInto(&rules[i])
	}
	x := extras[set]
	if f.allowRetain && x.allowRetain {
		rules[0].AllowRetain = true
	}
	if f.limits && x.maxEntriesPerNamespace > 0 {
		rules[0].MaxEntriesPerNamespace = int32(x.maxEntriesPerNamespace)
	}
	return rules
}

// guardrailsJSON is spec.guardrails of a rule set (rulesOf).
func guardrailsJSON(set string, f features) (map[string]any, error) {
	data, err := json.Marshal(v1.Guardrails{Rules: rulesOf(set, f)})
	if err != nil {
		return nil, err
	}
	var g map[string]any
	if err := json.Unmarshal(data, &g); err != nil {
		return nil, err
	}
	return g, nil
}

// writeRules puts a rule set and the platform's protect pattern in a cluster's
// ClusterAccessConfig with a merge patch (the lists are replaced whole).
func writeRules(ctx context.Context, k8s client.Client, cluster, set string, f features) error {
	g, err := guardrailsJSON(set, f)
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"guardrails": g,
		"unmanagedEntries": map[string]any{"protect": []string{protectPrefix + "*"}}}})
	if err != nil {
		return err
	}
	cac := &v1.ClusterAccessConfig{}
	cac.Name = cluster
	return k8s.Patch(ctx, cac, client.RawPatch(types.MergePatchType, patch))
}

// limitOf is how many entries a namespace may hold in a cluster, read from the
// rules as the operator reads them (the largest limit of the rules that admit
// the namespace): the probe's and the requests' namespaces have rules, and
// limits, of their own.
func (m *model) limitOf(ns, cluster string) int {
	return guardrails.Config{Rules: rulesOf(m.rules[cluster], m.feat)}.LimitOf(ns, nil)
}

// tenantClients makes, for each tenant namespace, a client that authenticates
// as a user with a Role on AccessEntries in that namespace alone; the trusted
// namespace gets the admin client.
func tenantClients(ctx context.Context, w *testenv.World) (map[string]client.Client, error) {
	out := map[string]client.Client{namespace: w.Client}
	for _, ns := range append(tenants, probeNS) {
		cfg, err := testenv.TenantConfig(ctx, w.Env, w.Config, "tenant-"+ns, ns)
		if err != nil {
			return nil, fmt.Errorf("tenant user of %s: %w", ns, err)
		}
		if out[ns], err = newClient(cfg); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// newClient is a client for AccessEntries whose requests fail, rather than hang
// the driver, while kube-apiserver restarts.
func newClient(cfg *rest.Config) (client.Client, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst, cfg.Timeout = 500, 1000, 10*time.Second
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: scheme})
}

// createConfig creates a cluster's ClusterAccessConfig with a rule set.
func createConfig(ctx context.Context, k8s client.Client, cluster, set string, f features) error {
	cac := &v1.ClusterAccessConfig{}
	cac.Name, cac.Spec.ClusterName = cluster, cluster
	if err := k8s.Create(ctx, cac); err != nil {
		return err
	}
	return writeRules(ctx, k8s, cluster, set, f)
}
