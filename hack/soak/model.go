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
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
)

// model is what the driver believes EKS must end up holding.
type model struct {
	live     map[string]*v1.AccessEntry // by object name: the last spec applied
	retained map[string]bool            // identities kept by Retain
	history  map[string][]string        // by object name: what the driver did, for a failure report
	declared map[string][]string        // by principal ARN: the objects that ever named it, for a failure report
	ruleLog  []string                   // the rule changes, for a failure report
	rules    map[string]string          // by cluster: the rule set its ClusterAccessConfig holds
	remote   bool                       // clusters[0]'s config assumes otherRole: its entries live in otherAccount
	noConfig bool                       // clusters[1]'s config was deleted (and let go)
	seq      int
	emu      *eksemulator.Server
	// rulesChanged is when the driver last changed a ClusterAccessConfig.
	rulesChanged time.Time
	// final holds the objects as settle last saw them, for a failure report.
	final map[string]v1.AccessEntry

	// clients act in each namespace: the admin's in the trusted one, a tenant's
	// (RBAC on its own namespace's AccessEntries only) in the others.
	clients map[string]client.Client
	feat    features
	// left are the entries tenant objects left behind (Retain, or a finalizer
	// the API server let them remove), by key.
	left map[string]leftEntry
	// tenantKeys are the keys tenant objects ever named, with their namespace.
	tenantKeys map[string]string
	// attacks counts the adversary's actions and answers, by "kind: answer";
	// attackOf is the kind that made an object, to count how it ended.
	attacks  map[string]int
	attackOf map[string]string
	// probes are the probe's objects, not the driver's to touch.
	probes map[string]bool
	// strips are the finalizer removals the API server let a tenant make;
	// stripped are the live objects among them.
	strips   []string
	stripped map[string]bool
	// keysOf are the keys each object ever named.
	keysOf map[string][]string
	// holes are the writes a tenant's RBAC should have refused and did not.
	holes []string
	// probe times the probe tenant's objects.
	probe *probe
	// eksNow is what EKS held at settle's last look, by key.
	eksNow map[string]eksemulator.Entry
	// reqs asks for and decides time-bound grants (requests.go).
	reqs *requests
	// sso are the permission sets' objects (permissionsets.go).
	sso *ssoSets
}

// leftEntry is an entry a tenant object left behind in EKS.
type leftEntry struct {
	namespace, name string
	// how: "Retain" or "finalizer removed".
	how string
	// set is the rule set of the cluster when the object let go of it.
	set string
}

// client is the client that acts in namespace ns.
func (m *model) client(ns string) client.Client { return m.clients[ns] }

// leave records that a tenant object let go of its entry at k (Retain, or its
// finalizer removed), or, for a trusted object under Retain, that Retain keeps it.
func (m *model) leave(ae *v1.AccessEntry, k, how string) {
	if ae.Namespace == namespace {
		m.retained[k] = true
		return
	}
	// The operator may not have moved the entry yet when the object lets go of
	// it after a re-pointing (or may have): it stays in either account.
	_, cl := splitKey(k)
	for _, acct := range accountsOf(cl) {
		m.left[key(acct, cl, ae.Spec.PrincipalARN)] = leftEntry{namespace: ae.Namespace, name: ae.Name, how: how, set: m.rules[cl]}
	}
	m.event(ae.Name, how+": let go of "+k)
}

// accountsOf are the accounts a cluster's entries may be in.
func accountsOf(cluster string) []string {
	if cluster == clusters[0] {
		return []string{account, otherAccount}
	}
	return []string{account}
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
func (m *model) step(ctx context.Context, rng *rand.Rand, maxObjects int) (string, error) {
	names := m.names()
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
		return "create", m.create(ctx, ae)
	case r < 55:
		return "update", m.change(ctx, names[rng.IntN(len(names))], func(s *v1.AccessEntrySpec) { randomize(s, rng) })
	case r < 60:
		return "expiry set, moved or removed", m.change(ctx, names[rng.IntN(len(names))], func(s *v1.AccessEntrySpec) { s.ExpiresAt = randomExpiry(rng) })
	case r < 75:
		name := names[rng.IntN(len(names))]
		delete(m.attackOf, name) // no longer the attack's object: its end says nothing of it
		return "identity change", m.change(ctx, name, func(s *v1.AccessEntrySpec) {
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
				m.leave(m.live[name], key(m.accountOf(old.cluster), old.cluster, old.principal), "Retain")
			}
		})
	case r < 78:
		return m.recreatePrincipal(ctx, rng)
	case r < 81:
		return m.changeRules(ctx, rng)
	case r < 82:
		return "config re-pointed to the other account", m.repoint(ctx)
	case r < 83:
		return "config deleted or created again", m.toggleConfig(ctx)
	default:
		return "delete", m.remove(ctx, names[rng.IntN(len(names))])
	}
}

// names are the live objects the driver and the adversary may touch, sorted.
func (m *model) names() []string {
	names := make([]string, 0, len(m.live))
	for n := range m.live {
		if !m.probes[n] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// create creates ae with its namespace's client and records it in the model.
func (m *model) create(ctx context.Context, ae *v1.AccessEntry) error {
	if err := m.client(ae.Namespace).Create(ctx, ae); err != nil {
		return err
	}
	m.live[ae.Name] = ae.DeepCopy()
	m.note(ae.Name, "create", &ae.Spec)
	m.track(ae)
	return nil
}

// track records the key an object names, and for a tenant object its namespace.
func (m *model) track(ae *v1.AccessEntry) {
	k := key(m.accountOf(ae.Spec.ClusterName), ae.Spec.ClusterName, ae.Spec.PrincipalARN)
	if !slices.Contains(m.keysOf[ae.Name], k) {
		m.keysOf[ae.Name] = append(m.keysOf[ae.Name], k)
	}
	if ae.Namespace != namespace {
		m.tenantKeys[key(m.accountOf(ae.Spec.ClusterName), ae.Spec.ClusterName, ae.Spec.PrincipalARN)] = ae.Namespace
	}
}

// remove deletes the object with its namespace's client.
func (m *model) remove(ctx context.Context, name string) error {
	ae := m.live[name]
	if err := m.client(ae.Namespace).Delete(ctx, &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ae.Namespace}}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	// The operator lets go of the identity its status records, which may be one
	// the object named before, not moved yet: any of them may stay.
	for _, k := range m.keysOf[name] {
		if ae.Spec.DeletionPolicy == v1.DeletionPolicyRetain {
			m.leave(ae, k, "Retain")
		}
		if m.stripped[name] {
			m.leave(ae, k, "finalizer removed")
		}
	}
	delete(m.live, name)
	m.event(name, "deleted")
	return nil
}

// changeRules switches a cluster's ClusterAccessConfig to another rule set:
// tightening makes the operator revoke, loosening lets refused objects through.
func (m *model) changeRules(ctx context.Context, rng *rand.Rand) (string, error) {
	const kind = "guardrails change"
	cl := clusters[rng.IntN(len(clusters))]
	sets := slices.Sorted(maps.Keys(ruleSets))
	next := sets[rng.IntN(len(sets))]
	if cl == clusters[1] && m.noConfig {
		return kind + " (skipped, the config is deleted)", nil
	}
	if err := writeRules(ctx, m.client(namespace), cl, next, m.feat); err != nil {
		return kind, err
	}
	m.rules[cl], m.rulesChanged = next, time.Now()
	m.ruleLog = append(m.ruleLog, fmt.Sprintf("    %s rules of %s: set %q", time.Now().UTC().Format("15:04:05.0"), cl, next))
	return kind, nil
}

// repoint switches clusters[0]'s ClusterAccessConfig between the operator's own
// credentials and otherRole: every entry of the cluster moves to the other
// account, but for the ones Retain keeps where they were.
func (m *model) repoint(ctx context.Context) error {
	k8s := m.client(namespace)
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
			m.leave(ae, key(m.accountOf(clusters[0]), clusters[0], ae.Spec.PrincipalARN), "Retain")
		}
	}
	m.remote, m.rulesChanged = !m.remote, time.Now()
	m.ruleLog = append(m.ruleLog, fmt.Sprintf("    %s config of %s re-pointed to account %s", time.Now().UTC().Format("15:04:05.0"), clusters[0], m.accountOf(clusters[0])))
	m.probe.interrupt(clusters[0])
	for _, ae := range m.live {
		m.track(ae)
	}
	return nil
}

// toggleConfig deletes clusters[1]'s ClusterAccessConfig, letting it go although
// AccessEntries use it, or creates it again: without it the tenants there have
// no rule, and what they hold is revoked.
func (m *model) toggleConfig(ctx context.Context) error {
	k8s := m.client(namespace)
	name := clusters[1]
	if m.noConfig {
		if err := createConfig(ctx, k8s, name, m.rules[name], m.feat); err != nil {
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
	m.probe.interrupt(name)
	m.noConfig, m.rulesChanged = true, time.Now()
	return nil
}

// recreatePrincipal deletes and creates again, in IAM, the principal of an object
// whose entry the operator has bound to the principal's ID (status.principalID):
// the operator has to notice and recreate the entry. Objects not checked yet are
// left alone: a principal created again in the same second as its entry cannot be
// told apart by IAM's creation date.
func (m *model) recreatePrincipal(ctx context.Context, rng *rand.Rand) (string, error) {
	const kind = "principal re-created in IAM"
	list := &v1.AccessEntryList{}
	if err := m.client(namespace).List(ctx, list, client.InNamespace(namespace)); err != nil {
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
func (m *model) change(ctx context.Context, name string, mutate func(*v1.AccessEntrySpec)) error {
	k8s := m.client(m.live[name].Namespace)
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
			m.track(m.live[name])
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
	if ae.Spec.Expired(time.Now()) {
		return v1.ReasonExpired // whatever the rules and EKS would say
	}
	if v := m.verdict(ae); v != nil && !v.Allowed() {
		return v1.ReasonNotPermitted
	}
	if ae.Spec.EntryType() != v1.TypeStandard && m.accountOf(ae.Spec.ClusterName) != account {
		return v1.ReasonInvalidSpec
	}
	return v1.ReasonSynced
}

// expectedReasons are the Ready reasons an object may end with. A tenant
// object naming a principal another object names, or whose entry another
// object's tags mark, may be the one holding it or find it taken (Conflict, or
// AlreadyExists for an entry no object records); which one wins is not the
// judge's to predict, only that one at most holds it (check). Where the build
// has per-namespace limits and the namespace is over its limit, any reason
// will do: check counts the entries.
func (m *model) expectedReasons(ae *v1.AccessEntry) (reasons []string, any bool) {
	if ae.Spec.Expired(time.Now()) {
		return []string{v1.ReasonExpired}, false // before any rule or claim
	}
	want := m.expectedReason(ae)
	if ae.Namespace == namespace {
		return []string{want}, false
	}
	if m.reserved(ae.Spec.ClusterName, ae.Spec.PrincipalARN) != "" {
		// Judged before any claim: the platform's principal is refused outright.
		return []string{v1.ReasonNotPermitted}, false
	}
	if m.feat.limits && m.overLimit(ae.Namespace, ae.Spec.ClusterName) {
		return nil, true
	}
	if !m.contested(ae) {
		return []string{want}, false
	}
	if want == v1.ReasonNotPermitted {
		return []string{want, v1.ReasonConflict}, false
	}
	return []string{want, v1.ReasonConflict, v1.ReasonAlreadyExists}, false
}

// contested: another live object names the same principal on the cluster, or
// EKS holds an entry for it that another object's tags mark, or one left behind.
// IAM names are case-insensitive: another spelling of the principal is the
// same one.
func (m *model) contested(ae *v1.AccessEntry) bool {
	for _, o := range m.live {
		if o.Name != ae.Name && o.Spec.ClusterName == ae.Spec.ClusterName && strings.EqualFold(o.Spec.PrincipalARN, ae.Spec.PrincipalARN) {
			return true
		}
	}
	k := key(m.accountOf(ae.Spec.ClusterName), ae.Spec.ClusterName, ae.Spec.PrincipalARN)
	for hk, e := range m.eksNow {
		if strings.EqualFold(hk, k) && !tagsName(e, ae) {
			return true
		}
	}
	for lk := range m.left {
		if strings.EqualFold(lk, k) {
			return true
		}
	}
	for rk, kept := range m.retained {
		if kept && strings.EqualFold(rk, k) {
			return true
		}
	}
	return false
}

// overLimit: the namespace declares more entries on the cluster than its rule's limit.
func (m *model) overLimit(ns, cluster string) bool {
	n := 0
	for _, o := range m.live {
		if o.Namespace == ns && o.Spec.ClusterName == cluster {
			n++
		}
	}
	return n > m.limitOf(ns, cluster)
}

// entries are the entries EKS holds in every account and cluster, by key, but
// those of the permission sets' objects, which permissionsets.go judges.
func (m *model) entries() map[string]eksemulator.Entry {
	out := map[string]eksemulator.Entry{}
	for _, cl := range clusters {
		for _, acct := range []string{account, otherAccount} {
			for _, e := range m.emu.Entries(acct, region, cl) {
				if o, ok := ownership.Of(e.Tags); ok && o.Namespace == ssoNS {
					continue // the permission sets' (permissionsets.go)
				}
				out[key(acct, cl, e.PrincipalARN)] = e
			}
		}
	}
	return out
}

// tagsName: the entry's ownership tags name the object.
func tagsName(e eksemulator.Entry, ae *v1.AccessEntry) bool {
	o, ok := ownership.Of(e.Tags)
	return ok && o.Instance == instance && o.Namespace == ae.Namespace && o.Name == ae.Name
}

// staleSeen: the entry is bound to a principal since re-created in IAM, and the
// operator can tell, since the entry's account is the principal's (it reads IAM
// with the credentials of the entry's account; docs/api.md, status.principalID).
// An object can carry a binding made in one account into another: it moves with
// its cluster's config and takes back an entry it retained there before the
// principal was re-created.
func staleSeen(e eksemulator.Entry) bool {
	entryAccount, _ := awsarn.AccountOf(e.AccessEntryARN)
	principalAccount, _ := awsarn.AccountOf(e.PrincipalARN)
	return e.PrincipalStale && entryAccount == principalAccount
}

// readyReason is the reason of an object's Ready condition; "" without one.
func readyReason(ae v1.AccessEntry) string {
	if c := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReady); c != nil {
		return c.Reason
	}
	return ""
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
	req := guardrails.RequestFor(ae, nil)
	req.Reserved = m.reserved(ae.Spec.ClusterName, ae.Spec.PrincipalARN)
	v := guardrails.Judge(guardrails.Config{Name: ae.Spec.ClusterName, Rules: rulesOf(m.rules[ae.Spec.ClusterName], m.feat)}, req)
	return &v
}

// reserved says why a principal is no tenant's on a cluster, judged from the
// model: the platform protects it, or a live object of the trusted namespace
// declares it there. "" when neither holds.
func (m *model) reserved(cluster, principal string) string {
	if strings.HasPrefix(strings.ToLower(principal), strings.ToLower(protectPrefix)) {
		return "protected"
	}
	for _, o := range m.live {
		if o.Namespace == namespace && o.Spec.ClusterName == cluster && strings.EqualFold(o.Spec.PrincipalARN, principal) {
			return "declared by " + o.Name
		}
	}
	return ""
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

// randomExpiry is a time within 20 s before and 40 s after now, or none (a
// standing grant): the soak's grants expire at random moments, some while the
// operator is killed, and some are moved or made standing again.
func randomExpiry(rng *rand.Rand) *metav1.Time {
	if rng.IntN(4) == 0 {
		return nil
	}
	t := metav1.NewTime(time.Now().Add(time.Duration(rng.IntN(60)-20) * time.Second).Truncate(time.Second))
	return &t
}

// lastExpiry is the latest expiry of a live object, zero when none is set.
func (m *model) lastExpiry() time.Time {
	var last time.Time
	for _, ae := range m.live {
		if ae.Spec.ExpiresAt != nil && ae.Spec.ExpiresAt.After(last) {
			last = ae.Spec.ExpiresAt.Time
		}
	}
	return last
}
