package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
)

// model is what the driver believes EKS must end up holding.
type model struct {
	live     map[string]*v1.AccessEntry // by object name: the last spec applied
	retained map[string]bool            // identities kept by Retain
	history  map[string][]string        // by object name: what the driver did, for a failure report
	declared map[string][]string        // by principal ARN: the objects that ever named it, for a failure report
	rules    map[string]string          // by cluster: the rule set its ClusterAccessConfig holds
	remote   bool                       // clusters[0]'s config assumes otherRole: its entries live in otherAccount
	noConfig bool                       // clusters[1]'s config was deleted (and let go)
	seq      int
	emu      *eksemulator.Server
	// rulesChanged is when the driver last changed a ClusterAccessConfig.
	rulesChanged time.Time
	// final holds the objects as settle last saw them, for a failure report.
	final map[string]v1.AccessEntry
}

type identity struct{ cluster, principal string }

func key(account, cluster, principal string) string { return account + " " + cluster + " " + principal }

// accountOf is the account the cluster's entries live in now.
func (m *model) accountOf(cluster string) string {
	if cluster == clusters[0] && m.remote {
		return otherAccount
	}
	return account
}

// step makes one random change and records it in the model when the API server took it.
func (m *model) step(ctx context.Context, k8s client.Client, rng *rand.Rand, maxObjects int) (string, error) {
	names := make([]string, 0, len(m.live))
	for n := range m.live {
		names = append(names, n)
	}
	sort.Strings(names)
	r := rng.IntN(100)
	switch {
	case len(names) < maxObjects/4 || (r < 30 && len(names) < maxObjects):
		m.seq++
		ae := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("soak-%04d", m.seq), Namespace: namespace}}
		if rng.IntN(3) == 0 {
			ae.Namespace = tenants[rng.IntN(len(tenants))]
		}
		ae.Spec.ClusterName = clusters[rng.IntN(2)]
		ae.Spec.PrincipalARN = m.freshPrincipal(ae.Namespace)
		randomize(&ae.Spec, rng)
		if rng.IntN(5) == 0 {
			ae.Spec.DeletionPolicy = v1.DeletionPolicyRetain
		}
		if err := k8s.Create(ctx, ae); err != nil {
			return "create", err
		}
		m.live[ae.Name] = ae.DeepCopy()
		m.note(ae.Name, "create", &ae.Spec)
		return "create", nil
	case r < 60:
		return "update", m.change(ctx, k8s, names[rng.IntN(len(names))], func(s *v1.AccessEntrySpec) { randomize(s, rng) })
	case r < 75:
		name := names[rng.IntN(len(names))]
		return "identity change", m.change(ctx, k8s, name, func(s *v1.AccessEntrySpec) {
			old := identity{s.ClusterName, s.PrincipalARN}
			switch rng.IntN(3) {
			case 0:
				s.PrincipalARN = m.freshPrincipal(m.live[name].Namespace)
			case 1:
				s.ClusterName = clusters[(slices.Index(clusters, s.ClusterName)+1)%2]
			default:
				if s.Type == v1.TypeStandard || s.Type == "" {
					s.Type = v1.TypeEC2Linux
				} else {
					s.Type = v1.TypeStandard
				}
				randomize(s, rng)
			}
			if s.DeletionPolicy == v1.DeletionPolicyRetain && (old != identity{s.ClusterName, s.PrincipalARN}) {
				m.retained[key(m.accountOf(old.cluster), old.cluster, old.principal)] = true
			}
		})
	case r < 78:
		return m.recreatePrincipal(ctx, k8s, rng)
	case r < 81:
		return m.changeRules(ctx, k8s, rng)
	case r < 82:
		return "config re-pointed to the other account", m.repoint(ctx, k8s)
	case r < 83:
		return "config deleted or created again", m.toggleConfig(ctx, k8s)
	default:
		name := names[rng.IntN(len(names))]
		ae := m.live[name]
		if err := k8s.Delete(ctx, &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ae.Namespace}}); err != nil && !apierrors.IsNotFound(err) {
			return "delete", err
		}
		if ae.Spec.DeletionPolicy == v1.DeletionPolicyRetain {
			m.retained[key(m.accountOf(ae.Spec.ClusterName), ae.Spec.ClusterName, ae.Spec.PrincipalARN)] = true
		}
		delete(m.live, name)
		return "delete", nil
	}
}

// changeRules switches a cluster's ClusterAccessConfig to another rule set:
// tightening makes the operator revoke, loosening lets refused objects through.
func (m *model) changeRules(ctx context.Context, k8s client.Client, rng *rand.Rand) (string, error) {
	const kind = "guardrails change"
	cl := clusters[rng.IntN(len(clusters))]
	sets := slices.Sorted(maps.Keys(ruleSets))
	next := sets[rng.IntN(len(sets))]
	if cl == clusters[1] && m.noConfig {
		return kind + " (skipped, the config is deleted)", nil
	}
	cac := &v1.ClusterAccessConfig{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: cl}, cac); err != nil {
		return kind, err
	}
	cac.Spec.Guardrails.Rules = ruleSets[next]
	if err := k8s.Update(ctx, cac); err != nil {
		return kind, err
	}
	m.rules[cl], m.rulesChanged = next, time.Now()
	return kind, nil
}

// repoint switches clusters[0]'s ClusterAccessConfig between the operator's own
// credentials and otherRole: every entry of the cluster moves to the other
// account, but for the ones Retain keeps where they were.
func (m *model) repoint(ctx context.Context, k8s client.Client) error {
	cac := &v1.ClusterAccessConfig{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: clusters[0]}, cac); err != nil {
		return err
	}
	cac.Spec.RoleARN = ""
	if !m.remote {
		cac.Spec.RoleARN = otherRole
	}
	if err := k8s.Update(ctx, cac); err != nil {
		return err
	}
	for name, ae := range m.live {
		if ae.Spec.ClusterName != clusters[0] {
			continue
		}
		m.event(name, "config of "+clusters[0]+" re-pointed away from account "+m.accountOf(clusters[0]))
		if ae.Spec.DeletionPolicy == v1.DeletionPolicyRetain {
			m.retained[key(m.accountOf(clusters[0]), clusters[0], ae.Spec.PrincipalARN)] = true
		}
	}
	m.remote, m.rulesChanged = !m.remote, time.Now()
	return nil
}

// toggleConfig deletes clusters[1]'s ClusterAccessConfig, letting it go although
// AccessEntries use it, or creates it again: without it the tenants there have
// no rule, and what they hold is revoked.
func (m *model) toggleConfig(ctx context.Context, k8s client.Client) error {
	name := clusters[1]
	if m.noConfig {
		cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.ClusterAccessConfigSpec{ClusterName: name,
			Guardrails: v1.Guardrails{Rules: ruleSets[m.rules[name]]}}}
		if err := k8s.Create(ctx, cac); err != nil {
			return err
		}
		m.noConfig, m.rulesChanged = false, time.Now()
		return nil
	}
	cac := &v1.ClusterAccessConfig{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: name}, cac); err != nil {
		return err
	}
	released := cac.DeepCopy()
	released.Annotations = map[string]string{v1.ReleaseAnnotation: "true"}
	if err := k8s.Patch(ctx, released, client.MergeFrom(cac)); err != nil {
		return err
	}
	if err := k8s.Delete(ctx, cac); err != nil {
		return err
	}
	m.noConfig, m.rulesChanged = true, time.Now()
	return nil
}

// recreatePrincipal deletes and creates again, in IAM, the principal of an object
// whose entry the operator has bound to the principal's ID (status.principalID):
// the operator has to notice and recreate the entry. Objects not checked yet are
// left alone: a principal created again in the same second as its entry cannot be
// told apart by IAM's creation date.
func (m *model) recreatePrincipal(ctx context.Context, k8s client.Client, rng *rand.Rand) (string, error) {
	const kind = "principal re-created in IAM"
	list := &v1.AccessEntryList{}
	if err := k8s.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return kind, err
	}
	var checked []string
	for _, cur := range list.Items {
		live, ok := m.live[cur.Name]
		// The operator reads principals with the credentials of the entry's account:
		// it cannot see a principal of another account re-created.
		if !ok || m.accountOf(live.Spec.ClusterName) != account {
			continue
		}
		arn := live.Spec.PrincipalARN
		ready := meta.FindStatusCondition(cur.Status.Conditions, v1.ConditionReady)
		// Ready at the current generation: no identity move pending that would
		// make a new entry in the same second.
		if ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == cur.Generation &&
			cur.Status.Identity != nil && cur.Status.Identity.PrincipalARN == arn &&
			cur.Status.PrincipalID != "" && cur.Status.PrincipalID == m.emu.PrincipalID(arn) {
			checked = append(checked, cur.Name)
		}
	}
	if len(checked) == 0 {
		return kind + " (skipped, none checked yet)", nil
	}
	sort.Strings(checked)
	name := checked[rng.IntN(len(checked))]
	arn := m.live[name].Spec.PrincipalARN
	m.emu.RecreatePrincipal(arn)
	m.event(name, "principal re-created in IAM "+arn)
	return kind, nil
}

// change applies mutate to the live object (retrying on conflicts) and to the model.
func (m *model) change(ctx context.Context, k8s client.Client, name string, mutate func(*v1.AccessEntrySpec)) error {
	spec := m.live[name].Spec.DeepCopy()
	mutate(spec)
	for range 5 {
		cur := &v1.AccessEntry{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: m.live[name].Namespace, Name: name}, cur); err != nil {
			return err
		}
		cur.Spec = *spec
		err := k8s.Update(ctx, cur)
		if err == nil {
			m.live[name].Spec = *spec
			m.note(name, "change", spec)
			return nil
		}
		if !apierrors.IsConflict(err) {
			return err
		}
	}
	return errors.New("conflicts")
}

// note records a step of an object's history.
func (m *model) note(name, what string, s *v1.AccessEntrySpec) {
	m.event(name, fmt.Sprintf("%s %s %s %s %s tags=%v", what, s.ClusterName, s.PrincipalARN, s.Type, s.DeletionPolicy, s.Tags))
	if !slices.Contains(m.declared[s.PrincipalARN], name) {
		m.declared[s.PrincipalARN] = append(m.declared[s.PrincipalARN], name)
	}
}

// event records a step of an object's history, at the time of day the events of
// the operator are listed with.
func (m *model) event(name, what string) {
	m.history[name] = append(m.history[name], time.Now().UTC().Format("15:04:05.0")+" "+what)
}

// freshPrincipal is a new principal; a tenant's are under its own prefix, which
// the tenants' rule allows.
func (m *model) freshPrincipal(ns string) string {
	m.seq++
	return fmt.Sprintf("arn:aws:iam::%s:role/soak/%s-principal-%05d", account, ns, m.seq)
}

// expectedReason is the Ready reason an object must end with: Synced, NotPermitted
// for a refused tenant object, or InvalidSpec for a node role in a cluster of
// another account (EKS refuses it).
func (m *model) expectedReason(ae *v1.AccessEntry) string {
	if v := m.verdict(ae); v != nil && !v.Allowed() {
		return v1.ReasonNotPermitted
	}
	if ae.Spec.EntryType() != v1.TypeStandard && m.accountOf(ae.Spec.ClusterName) != account {
		return v1.ReasonInvalidSpec
	}
	return v1.ReasonSynced
}

// verdict is what the guardrails say of a tenant object under its cluster's
// current rules; nil for an object of the trusted namespace.
func (m *model) verdict(ae *v1.AccessEntry) *guardrails.Verdict {
	if ae.Namespace == namespace {
		return nil
	}
	if ae.Spec.ClusterName == clusters[1] && m.noConfig {
		return &guardrails.Verdict{} // no config, no rule: nothing allowed
	}
	v := guardrails.Judge(guardrails.Config{Name: ae.Spec.ClusterName, Rules: ruleSets[m.rules[ae.Spec.ClusterName]]},
		guardrails.RequestFor(ae, nil))
	return &v
}

// randomize sets the mutable fields: username, groups, tags, policies and scopes
// (for STANDARD), keeping the identity.
func randomize(s *v1.AccessEntrySpec, rng *rand.Rand) {
	s.Username, s.KubernetesGroups, s.AccessPolicies = "", nil, nil
	s.Tags = map[string]v1.TagValue{}
	for i := range rng.IntN(3) {
		s.Tags[fmt.Sprintf("k%d", i)] = v1.TagValue(strconv.Itoa(rng.IntN(3)))
	}
	if s.Type != "" && s.Type != v1.TypeStandard {
		return
	}
	if rng.IntN(3) == 0 {
		s.Username = fmt.Sprintf("user-%d:{{SessionName}}", rng.IntN(5))
	}
	for _, g := range rng.Perm(4)[:rng.IntN(3)] {
		s.KubernetesGroups = append(s.KubernetesGroups, v1.KubernetesGroup(fmt.Sprintf("group-%d", g)))
	}
	names := []string{"AmazonEKSViewPolicy", "AmazonEKSEditPolicy", "AmazonEKSAdminPolicy"}
	for _, i := range rng.Perm(3)[:rng.IntN(3)] {
		p := v1.AccessPolicy{PolicyARN: policyARN(names[i]), AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}}
		if rng.IntN(2) == 0 {
			p.AccessScope = v1.AccessScope{Type: v1.AccessScopeNamespace, Namespaces: []v1.ScopeNamespace{v1.ScopeNamespace(fmt.Sprintf("ns-%d", rng.IntN(3)))}}
		}
		s.AccessPolicies = append(s.AccessPolicies, p)
	}
}
