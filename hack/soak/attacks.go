package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// The adversary's grammar: what a tenant can do with the rights of its own
// namespace. Each attack goes through the acting tenant's client, so RBAC and
// admission are the real API server's; m.attacks counts what it answered, and
// finalAttacks how the objects the attacks made ended.
var attacks = []struct {
	kind   string
	weight int
	run    func(m *model, ctx context.Context, rng *rand.Rand) (string, error)
}{
	{"finalizer removed from a live object", 6, (*model).stripLive},
	{"finalizer removed, then deleted", 6, (*model).stripThenDelete},
	{"deleted, then finalizer removed", 8, (*model).deleteThenStrip},
	{"deleted under Retain", 8, (*model).retainDelete},
	{"squat: a platform principal", 8, (*model).squatPlatform},
	{"squat: another tenant's principal", 8, (*model).squatTenant},
	{"squat: another tenant's principal, in another letter case", 6, (*model).squatRespelled},
	{"squat: a protected principal", 5, (*model).squatProtected},
	{"sibling: " + tenantsZero + " reaches " + sibling, 10, (*model).reachSibling},
	{"conflict storm", 4, (*model).storm},
	{"churn on a refused object", 12, (*model).churn},
	{"write outside its rights", 5, (*model).trespass},
	{"expiry toggled", 8, (*model).toggleExpiry},
}

const tenantsZero = "soak-t1"

// stormSize is how many objects a conflict storm makes.
const stormSize = 6

// attack makes one attack, chosen by weight.
func (m *model) attack(ctx context.Context, rng *rand.Rand) (string, error) {
	total := 0
	for _, a := range attacks {
		total += a.weight
	}
	r := rng.IntN(total)
	for _, a := range attacks {
		if r -= a.weight; r < 0 {
			answer, err := a.run(m, ctx, rng)
			m.attacks[a.kind+": "+answer]++
			return "attack", err
		}
	}
	return "attack", nil
}

// answerOf names how the API server answered a tenant's request.
func answerOf(err error) string {
	switch {
	case err == nil:
		return "accepted"
	case strings.Contains(err.Error(), "ValidatingAdmissionPolicy") || strings.Contains(err.Error(), "admission webhook"):
		return "refused by admission"
	case apierrors.IsForbidden(err):
		return "forbidden by RBAC"
	case apierrors.IsInvalid(err):
		return "refused as invalid"
	case apierrors.IsNotFound(err):
		return "already gone"
	}
	return "failed (" + err.Error() + ")"
}

// tenantObjects are the live objects of tenant namespaces, sorted.
func (m *model) tenantObjects(keep func(*v1.AccessEntry) bool) []string {
	var out []string
	for _, n := range m.names() {
		if ae := m.live[n]; ae.Namespace != namespace && (keep == nil || keep(ae)) {
			out = append(out, n)
		}
	}
	return out
}

func pick(rng *rand.Rand, names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[rng.IntN(len(names))]
}

// stripFinalizer removes the operator's finalizer from a tenant's object with
// the tenant's client; it says whether the object had one to remove.
func (m *model) stripFinalizer(ctx context.Context, ae *v1.AccessEntry) (bool, error) {
	for range 4 {
		had, err := m.stripOnce(ctx, ae)
		if !apierrors.IsConflict(err) {
			return had, err
		}
	}
	return true, errors.New("conflicts with the operator's writes, 4 times")
}

// stripOnce removes the finalizer from the object as last read.
func (m *model) stripOnce(ctx context.Context, ae *v1.AccessEntry) (bool, error) {
	k8s := m.client(ae.Namespace)
	cur := &v1.AccessEntry{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(ae), cur); err != nil {
		return false, err
	}
	if !slices.Contains(cur.Finalizers, v1.Finalizer) {
		return false, nil
	}
	rest := slices.DeleteFunc(slices.Clone(cur.Finalizers), func(f string) bool { return f == v1.Finalizer })
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"finalizers": rest, "resourceVersion": cur.ResourceVersion}})
	if err != nil {
		return true, err
	}
	err = k8s.Patch(ctx, cur, client.RawPatch(types.MergePatchType, patch))
	if err == nil {
		m.strips = append(m.strips, ae.Namespace+"/"+ae.Name)
		m.event(ae.Name, "the tenant removed the finalizer")
	}
	return true, err
}

// stripLive removes the finalizer of a live object, which stays: the operator
// must put it back (or admission refuse the removal).
func (m *model) stripLive(ctx context.Context, rng *rand.Rand) (string, error) {
	name := pick(rng, m.tenantObjects(nil))
	if name == "" {
		return "skipped", nil
	}
	had, err := m.stripFinalizer(ctx, m.live[name])
	if !had && err == nil {
		return "skipped (no finalizer yet)", nil
	}
	if err == nil {
		// Deleted before the operator puts it back, the object leaves its entry.
		m.stripped[name] = true
	}
	return answerOf(err), nil
}

// stripThenDelete removes the finalizer and deletes the object at once: unless
// the operator put the finalizer back in between, the object goes without the
// operator's deletion, and its entry is left behind.
func (m *model) stripThenDelete(ctx context.Context, rng *rand.Rand) (string, error) {
	name := pick(rng, m.tenantObjects(nil))
	if name == "" {
		return "skipped", nil
	}
	ae := m.live[name]
	had, err := m.stripFinalizer(ctx, ae)
	answer := answerOf(err)
	if !had && err == nil {
		answer = "skipped (no finalizer yet)"
	}
	k := key(m.accountOf(ae.Spec.ClusterName), ae.Spec.ClusterName, ae.Spec.PrincipalARN)
	if err := m.remove(ctx, name); err != nil {
		return answer, err
	}
	if had && err == nil {
		m.leave(ae, k, "finalizer removed")
	}
	return answer, nil
}

// deleteThenStrip deletes the object and removes the finalizer while the
// operator deletes its entry.
func (m *model) deleteThenStrip(ctx context.Context, rng *rand.Rand) (string, error) {
	name := pick(rng, m.tenantObjects(nil))
	if name == "" {
		return "skipped", nil
	}
	ae := m.live[name]
	k := key(m.accountOf(ae.Spec.ClusterName), ae.Spec.ClusterName, ae.Spec.PrincipalARN)
	if err := m.remove(ctx, name); err != nil {
		return "skipped (delete failed)", err
	}
	had, err := m.stripFinalizer(ctx, ae)
	switch {
	case err == nil && !had:
		return "skipped (already deleted)", nil
	case err == nil:
		m.leave(ae, k, "finalizer removed")
	}
	return answerOf(err), nil
}

// retainDelete sets deletionPolicy Retain and deletes the object: the entry
// stays only where the rule allows Retain (allowRetain).
func (m *model) retainDelete(ctx context.Context, rng *rand.Rand) (string, error) {
	name := pick(rng, m.tenantObjects(nil))
	if name == "" {
		return "skipped", nil
	}
	if err := m.change(ctx, name, func(s *v1.AccessEntrySpec) { s.DeletionPolicy = v1.DeletionPolicyRetain }); err != nil {
		return answerOf(err), err
	}
	return answerOf(m.remove(ctx, name)), nil
}

// newTenantObject creates an object in ns naming the principal on the cluster,
// with a random spec, through ns's client, and records which attack made it.
func (m *model) newTenantObject(ctx context.Context, rng *rand.Rand, kind, ns, cluster, principal string, mutate func(*v1.AccessEntrySpec)) error {
	m.seq++
	ae := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("soak-%04d", m.seq), Namespace: ns}}
	ae.Spec.ClusterName, ae.Spec.PrincipalARN = cluster, principal
	randomize(&ae.Spec, rng)
	if mutate != nil {
		mutate(&ae.Spec)
	}
	if err := m.create(ctx, ae); err != nil {
		return err
	}
	m.attackOf[ae.Name] = kind
	return nil
}

// meek asks for what every rule set allows a tenant: View in ns-0, group-0 and
// the username EKS derives. A squat with it is stopped by nothing but the
// principal: its reservation, its rule pattern, or another's claim.
func meek(s *v1.AccessEntrySpec) {
	s.Username, s.KubernetesGroups = "", []v1.KubernetesGroup{"group-0"}
	s.AccessPolicies = []v1.AccessPolicy{{PolicyARN: policyARN("AmazonEKSViewPolicy"),
		AccessScope: v1.AccessScope{Type: v1.AccessScopeNamespace, Namespaces: []v1.ScopeNamespace{"ns-0"}}}}
}

// squatOn makes an object in a tenant namespace other than the victim's that
// names the victim's principal on its cluster.
func (m *model) squatOn(ctx context.Context, rng *rand.Rand, kind, victim string) (string, error) {
	return m.squatAs(ctx, rng, kind, victim, func(p string) string { return p })
}

// squatAs names the victim's principal, spelled as spell makes it, from
// another tenant's namespace.
func (m *model) squatAs(ctx context.Context, rng *rand.Rand, kind, victim string, spell func(string) string) (string, error) {
	if victim == "" {
		return "skipped", nil
	}
	v := m.live[victim]
	others := slices.DeleteFunc(slices.Clone(tenants), func(ns string) bool { return ns == v.Namespace })
	err := m.newTenantObject(ctx, rng, kind, pick(rng, others), v.Spec.ClusterName, spell(v.Spec.PrincipalARN), meek)
	return answerOf(err), err
}

// squatRespelled names an object's principal, a tenant's or the platform's,
// with its role name in another letter case: IAM takes both for one role, EKS
// may keep an entry for each, and the operator must let one object hold it.
func (m *model) squatRespelled(ctx context.Context, rng *rand.Rand) (string, error) {
	cl := m.broadest(rng)
	victim := pick(rng, m.tenantObjects(func(ae *v1.AccessEntry) bool { return ae.Spec.ClusterName == cl }))
	if rng.IntN(3) == 0 {
		victim = pick(rng, slices.DeleteFunc(m.names(), func(n string) bool {
			return m.live[n].Namespace != namespace || m.live[n].Spec.ClusterName != cl
		}))
	}
	return m.squatAs(ctx, rng, "squat: another tenant's principal, in another letter case", victim, respell)
}

// respell swaps the letter case of an ARN's last name (role/soak/x-1 becomes
// role/soak/X-1, and back).
func respell(arn string) string {
	i := strings.LastIndex(arn, "/") + 1
	name := []rune(arn[i:])
	for j, r := range name {
		switch {
		case unicode.IsLower(r):
			name[j] = unicode.ToUpper(r)
		case unicode.IsUpper(r):
			name[j] = unicode.ToLower(r)
		}
	}
	return arn[:i] + string(name)
}

func (m *model) squatPlatform(ctx context.Context, rng *rand.Rand) (string, error) {
	var platform []string
	cl := m.broadest(rng)
	for _, n := range m.names() {
		if m.live[n].Namespace == namespace && m.live[n].Spec.ClusterName == cl {
			platform = append(platform, n)
		}
	}
	return m.squatOn(ctx, rng, "squat: a platform principal", pick(rng, platform))
}

func (m *model) squatTenant(ctx context.Context, rng *rand.Rand) (string, error) {
	cl := m.broadest(rng)
	return m.squatOn(ctx, rng, "squat: another tenant's principal", pick(rng, m.tenantObjects(func(ae *v1.AccessEntry) bool { return ae.Spec.ClusterName == cl })))
}

// squatProtected names a principal spec.unmanagedEntries.protect covers, whose
// hand-made entry exists in both clusters, and asks to adopt it (which the broad
// rule allows, but for the reservation).
func (m *model) squatProtected(ctx context.Context, rng *rand.Rand) (string, error) {
	const kind = "squat: a protected principal"
	err := m.newTenantObject(ctx, rng, kind, pick(rng, tenants), m.broadest(rng), pick(rng, protected), func(s *v1.AccessEntrySpec) {
		meek(s)
		s.KubernetesGroups = []v1.KubernetesGroup{"break-glass"}
		s.AccessPolicies = nil
	})
	if err == nil {
		err = m.annotate(ctx, m.seq, v1.AdoptAnnotation, "true")
	}
	return "adopting: " + answerOf(err), err
}

// broadest is a cluster under the broad rules when there is one: the adversary
// goes where only the reservation and first-come rules stop it.
func (m *model) broadest(rng *rand.Rand) string {
	for _, cl := range clusters {
		if m.rules[cl] == "broad" && !(cl == clusters[1] && m.noConfig) {
			return cl
		}
	}
	return clusters[rng.IntN(len(clusters))]
}

// annotate sets an annotation on the object the adversary made last.
func (m *model) annotate(ctx context.Context, seq int, k, v string) error {
	name := fmt.Sprintf("soak-%04d", seq)
	ae := m.live[name]
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{k: v}}})
	if err != nil {
		return err
	}
	return m.client(ae.Namespace).Patch(ctx, &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ae.Namespace}}, client.RawPatch(types.MergePatchType, patch))
}

// reachSibling has soak-t1 ask for a value only soak-t1-admin's {{namespace}}
// patterns should cover: a principal, a group or a scope under soak-t1-admin-.
func (m *model) reachSibling(ctx context.Context, rng *rand.Rand) (string, error) {
	kind := "sibling: " + tenantsZero + " reaches " + sibling
	principal := m.freshPrincipal(tenantsZero)
	var what string
	mutate := func(s *v1.AccessEntrySpec) {}
	switch rng.IntN(3) {
	case 0:
		what, principal = "principal", m.freshPrincipal(sibling)
	case 1:
		what = "group"
		mutate = func(s *v1.AccessEntrySpec) {
			s.KubernetesGroups = append(s.KubernetesGroups, v1.KubernetesGroup(sibling+"-ops"))
		}
	default:
		what = "scope"
		mutate = func(s *v1.AccessEntrySpec) {
			s.AccessPolicies = []v1.AccessPolicy{{PolicyARN: policyARN("AmazonEKSViewPolicy"),
				AccessScope: v1.AccessScope{Type: v1.AccessScopeNamespace, Namespaces: []v1.ScopeNamespace{sibling + "-data"}}}}
		}
	}
	err := m.newTenantObject(ctx, rng, kind+" ("+what+")", tenantsZero, clusters[rng.IntN(len(clusters))], principal, mutate)
	return what + ": " + answerOf(err), err
}

// storm makes stormSize objects, across the tenants, naming the principal a
// live tenant object holds.
func (m *model) storm(ctx context.Context, rng *rand.Rand) (string, error) {
	const kind = "conflict storm"
	victim := pick(rng, m.tenantObjects(nil))
	if victim == "" {
		return "skipped", nil
	}
	v := m.live[victim]
	made := 0
	for range stormSize {
		if err := m.newTenantObject(ctx, rng, kind, pick(rng, tenants), v.Spec.ClusterName, v.Spec.PrincipalARN, meek); err != nil {
			return fmt.Sprintf("%d objects made", made), err
		}
		made++
	}
	return fmt.Sprintf("%d objects made", made), nil
}

// flood fills one tenant's quota: n objects at once, each allowed on its own.
func (m *model) flood(ctx context.Context, rng *rand.Rand, n int) (string, error) {
	ns := tenants[m.attacks["flood"]%2]
	m.attacks["flood"]++
	// The probe's cluster: the same account's budget.
	cluster := clusters[1]
	if m.noConfig {
		cluster = clusters[0]
	}
	for i := range n {
		err := m.newTenantObject(ctx, rng, "flood", ns, cluster, m.freshPrincipal(ns), meek)
		if err != nil {
			m.attacks[fmt.Sprintf("flood: %d of %d objects made", i, n)]++
			return "flood", err
		}
	}
	m.attacks[fmt.Sprintf("flood: %d objects in %s", n, ns)]++
	return "flood", nil
}

// churn changes the labels of, or asks to verify, a tenant object the operator
// refuses now: each change wakes the operator, which must not let it crowd out
// the others.
func (m *model) churn(ctx context.Context, rng *rand.Rand) (string, error) {
	var refused []string
	for _, ns := range tenants {
		list := &v1.AccessEntryList{}
		if err := m.client(ns).List(ctx, list, client.InNamespace(ns)); err != nil {
			return "skipped", err
		}
		for _, ae := range list.Items {
			if _, live := m.live[ae.Name]; live && ae.DeletionTimestamp.IsZero() && readyReason(ae) != "" && readyReason(ae) != v1.ReasonSynced {
				refused = append(refused, ae.Name)
			}
		}
	}
	slices.Sort(refused)
	name := pick(rng, refused)
	if name == "" {
		return "skipped (none refused)", nil
	}
	ae := m.live[name]
	what, meta := "labels", map[string]any{"labels": map[string]string{"soak/churn": fmt.Sprint(rng.IntN(1000))}}
	if rng.IntN(2) == 0 {
		what, meta = "verify annotation", map[string]any{"annotations": map[string]string{v1.VerifyAnnotation: time.Now().UTC().Format(time.RFC3339Nano)}}
	}
	patch, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return what, err
	}
	err = m.client(ae.Namespace).Patch(ctx, &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ae.Namespace}}, client.RawPatch(types.MergePatchType, patch))
	return what + ": " + answerOf(err), nil
}

// toggleExpiry moves a tenant object's spec.expiresAt to the past, or a granted
// one back into the future: each move is a revocation or a grant, which must
// not let the tenant jump the line or leave what expired behind.
func (m *model) toggleExpiry(ctx context.Context, rng *rand.Rand) (string, error) {
	name := pick(rng, m.tenantObjects(func(*v1.AccessEntry) bool { return true }))
	if name == "" {
		return "skipped (no tenant object)", nil
	}
	what := "to the past"
	if m.live[name].Spec.Expired(time.Now()) {
		what = "to the future"
	}
	err := m.change(ctx, name, func(s *v1.AccessEntrySpec) {
		at := metav1.NewTime(time.Now().Add(-5 * time.Second).Truncate(time.Second))
		if what == "to the future" {
			at = metav1.NewTime(time.Now().Add(30 * time.Second).Truncate(time.Second))
		}
		s.ExpiresAt = &at
	})
	return what + ": " + answerOf(err), err
}

// trespass tries what a tenant's Role does not allow: an object in another
// namespace, its own object's status, a ClusterAccessConfig. Each must be
// forbidden; one that is not is recorded as a broken invariant.
func (m *model) trespass(ctx context.Context, rng *rand.Rand) (string, error) {
	ns := pick(rng, tenants)
	k8s := m.client(ns)
	var what string
	var err error
	switch rng.IntN(3) {
	case 0:
		target := pick(rng, slices.DeleteFunc(append([]string{namespace, probeNS}, tenants...), func(o string) bool { return o == ns }))
		what = "create in " + target
		ae := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: "trespass", Namespace: target},
			Spec: v1.AccessEntrySpec{ClusterName: clusters[0], PrincipalARN: m.freshPrincipal(target)}}
		if err = k8s.Create(ctx, ae); err == nil {
			_ = m.client(namespace).Delete(ctx, ae)
		}
	case 1:
		name := pick(rng, m.tenantObjects(func(ae *v1.AccessEntry) bool { return ae.Namespace == ns }))
		if name == "" {
			return "skipped", nil
		}
		what = "write its own status"
		ae := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		patch := []byte(`{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Synced","message":"forged","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}`)
		err = k8s.Status().Patch(ctx, ae, client.RawPatch(types.MergePatchType, patch))
	default:
		what = "change a ClusterAccessConfig"
		err = writeRules(ctx, k8s, clusters[rng.IntN(len(clusters))], "broad", m.feat)
	}
	answer := answerOf(err)
	if err == nil {
		m.holes = append(m.holes, ns+": "+what)
	}
	return what + ": " + answer, nil
}

// finalAttacks counts how the objects the attacks made ended (their Ready reason
// after quiescence; deleted ones are not counted).
func (m *model) finalAttacks(c *counts) {
	for name, kind := range m.attackOf {
		if ae, ok := m.final[name]; ok {
			m.attacks[kind+": ended "+endOf(ae)]++
		}
	}
}

// endOf is an object's Ready reason and, for NotPermitted, what its message
// says stopped it first.
func endOf(ae v1.AccessEntry) string {
	c := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReady)
	if c == nil || c.Reason != v1.ReasonNotPermitted {
		return readyReason(ae)
	}
	for _, why := range []struct{ says, is string }{
		{"is reserved for the platform", "reserved principal"},
		{"may not be adopted", "adoption refused"},
		{"no rule of ClusterAccessConfig", "no rule"},
		{"spec.principalARN", "principal outside the rule"},
	} {
		if strings.Contains(c.Message, why.says) {
			return c.Reason + " (" + why.is + ")"
		}
	}
	return c.Reason + " (groups, username or policies)"
}
