package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
	"github.com/eksaccess/eks-access-operator/internal/testenv/ekscheck"
)

// settle waits until every live object is Ready at its generation (or refused as
// the model expects) and not Reconciling, and every deleted object is gone.
func settle(ctx context.Context, k8s client.Client, m *model, emu *eksemulator.Server, timeout time.Duration) error {
	start := time.Now()
	deadline, report := start.Add(timeout), start.Add(30*time.Second)
	for {
		list := &v1.AccessEntryList{}
		err := k8s.List(ctx, list)
		if err == nil {
			// The requests' grants are the requests' check's (requests.go), the
			// permission sets' objects the sets' (permissionsets.go).
			list.Items = slices.DeleteFunc(list.Items, func(ae v1.AccessEntry) bool { return ae.Namespace == requestNS || ae.Namespace == ssoNS })
			var notReady []string
			m.eksNow = m.entries()
			for _, ae := range list.Items {
				if _, live := m.live[ae.Name]; !live {
					notReady = append(notReady, ae.Name+" (deleted, still there)")
					continue
				}
				c := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReady)
				reasons, any := m.expectedReasons(m.live[ae.Name])
				done := c != nil && (c.Reason == v1.ReasonSynced || c.Reason == v1.ReasonExpired)
				if c == nil || !(any || slices.Contains(reasons, c.Reason)) || done != (c.Status == metav1.ConditionTrue) || ae.Status.ObservedGeneration != ae.Generation {
					msg := "no status"
					if c != nil {
						msg = c.Reason + ": " + c.Message
					}
					want := "any reason"
					if !any {
						want = strings.Join(reasons, " or ")
					}
					notReady = append(notReady, ae.Name+" ("+msg+"; want "+want+")")
					continue
				}
				if meta.IsStatusConditionTrue(ae.Status.Conditions, v1.ConditionReconciling) {
					// The operator has work left on it (a refused object whose entry
					// is still to be revoked, say), whatever Ready says.
					notReady = append(notReady, ae.Name+" (Reconciling: "+meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReconciling).Message+")")
					continue
				}
				for _, e := range emu.Entries(m.accountOf(ae.Spec.ClusterName), region, ae.Spec.ClusterName) {
					// Only the object whose tags the entry carries answers for it: a
					// squatter in Conflict is not to bring another's entry up to date.
					if e.PrincipalARN == ae.Spec.PrincipalARN && staleSeen(e) && tagsName(e, &ae) {
						notReady = append(notReady, ae.Name+" (its entry is bound to a principal since re-created in IAM)")
					}
				}
			}
			// A rule change reaches every object at once, and a principal check within a verification period (20s).
			m.final = map[string]v1.AccessEntry{}
			for _, ae := range list.Items {
				m.final[ae.Name] = ae
			}
			if len(notReady) == 0 && len(list.Items) == len(m.live) && time.Since(m.rulesChanged) > 25*time.Second {
				say("quiescent after %s", time.Since(start).Round(time.Second))
				return nil
			}
			if time.Now().After(report) {
				report = time.Now().Add(30 * time.Second)
				sort.Strings(notReady)
				say("after %s, %d objects not quiescent, e.g. %v", time.Since(start).Round(time.Second), len(notReady), notReady[:min(3, len(notReady))])
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("not quiescent after %s: %d objects, %d live in the model; not ready: %v", timeout, len(list.Items), len(m.live), notReady)
			}
		} else if time.Now().After(deadline) {
			return err
		}
		time.Sleep(time.Second)
	}
}

// oneHolderPerRole: IAM names are case-insensitive, so of the entries of one
// role in a cluster, whatever the letter case of their ARNs, at most one is a
// live object's own (its ownership tags name it).
func (m *model) oneHolderPerRole(held map[string]eksemulator.Entry, c *counts) []string {
	holders := map[string][]string{}
	for k, e := range held {
		o, ok := ownership.Of(e.Tags)
		if ae := m.live[o.Name]; ok && o.Instance == instance && ae != nil && ae.Namespace == o.Namespace {
			role := strings.ToLower(k)
			holders[role] = append(holders[role], fmt.Sprintf("%s (%s)", o.Name, e.PrincipalARN))
		}
	}
	var problems []string
	for role, names := range holders {
		c.invariants++
		if len(names) > 1 {
			sort.Strings(names)
			problems = append(problems, fmt.Sprintf("%s: EKS holds %d entries of one role, %s, each tagged as a live object's own: %v", names[0][:strings.Index(names[0], " ")], len(names), role, names))
		}
	}
	return problems
}

// check compares what EKS holds with the model and the unowned snapshot.
func (m *model) check(emu *eksemulator.Server, unowned []eksemulator.Entry, c *counts) error {
	var problems []string
	held := map[string]eksemulator.Entry{}
	for _, cl := range clusters {
		for _, acct := range []string{account, otherAccount} {
			for _, e := range emu.Entries(acct, region, cl) {
				held[key(acct, cl, e.PrincipalARN)] = e
			}
		}
	}
	problems = append(problems, m.oneHolderPerRole(held, c)...)
	for _, u := range unowned {
		k := ""
		for hk, e := range held {
			if e.AccessEntryARN == u.AccessEntryARN {
				k = hk
			}
		}
		c.invariants++
		if k == "" || fmt.Sprint(held[k]) != fmt.Sprint(u) {
			problems = append(problems, "an unowned entry was changed or deleted: "+u.PrincipalARN)
			continue
		}
		delete(held, k)
	}
	for _, ae := range m.live {
		k := key(m.accountOf(ae.Spec.ClusterName), ae.Spec.ClusterName, ae.Spec.PrincipalARN)
		e, ok := held[k]
		if ok && ae.Namespace != namespace && !tagsName(e, ae) {
			// Another object's entry (a rival's, or one left behind): that object
			// or the tenancy invariants answer for it; this one holds none.
			ok = false
		}
		if final := readyReason(m.final[ae.Name]); ae.Namespace != namespace && (final == v1.ReasonConflict || final == v1.ReasonAlreadyExists) {
			c.invariants++
			if ok {
				problems = append(problems, fmt.Sprintf("%s: %s, yet EKS holds its entry %s, tagged as its own", ae.Name, final, k))
			}
			continue
		}
		if ae.Spec.Expired(time.Now()) {
			// Nothing expired remains: no entry of its own, whatever its rule or
			// deletionPolicy (what it retained when it moved is not its grant).
			c.invariants++
			c.expired++
			if ok && !m.retained[k] {
				problems = append(problems, fmt.Sprintf("%s: expired at %s, yet EKS holds its entry %s", ae.Name, ae.Spec.ExpiresAt.UTC().Format(time.RFC3339), k))
			}
			if ok {
				delete(held, k)
			}
			continue
		}
		v := m.verdict(ae)
		if m.expectedReason(ae) == v1.ReasonInvalidSpec {
			// Refused by EKS: nothing may be left of it in either account.
			if ok && !m.retained[k] {
				problems = append(problems, ae.Name+": EKS refuses a node role of another account, yet holds an entry for "+k)
			}
			delete(held, k)
			continue
		}
		c.invariants++
		switch {
		case v != nil && !v.EntryAllowed:
			// Nothing forbidden remains: no entry at all.
			if ok && !m.retained[k] {
				problems = append(problems, fmt.Sprintf("%s: refused (%s), but EKS holds an entry for %s", ae.Name, v.Message(), k))
			}
			if ok {
				delete(held, k)
			}
			continue
		case !ok && v != nil && !v.Allowed():
			// Refused before it was ever created: nothing granted.
			continue
		case !ok && m.limitRefused(ae):
			// Past its namespace's limit: refused, nothing granted; (vii) checks
			// that no namespace holds more than its limit.
			continue
		case !ok:
			problems = append(problems, ae.Name+": no entry for "+k)
			continue
		}
		delete(held, k)
		delete(m.retained, k)
		problems = append(problems, m.matches(ae, e, v, c)...)
	}
	for k, e := range held {
		c.invariants++
		if o, ok := ownership.Of(e.Tags); ok && o.Namespace == ssoNS {
			continue // the permission sets' (permissionsets.go)
		}
		if _, left := m.left[k]; left {
			continue // judged by the tenancy invariants
		}
		if !m.retained[k] {
			problems = append(problems, orphaned+k)
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		var names, principals []string
		for _, p := range problems {
			name, _, _ := strings.Cut(p, ":")
			if strings.HasPrefix(p, orphaned) {
				// The objects that ever named the principal.
				names = append(names, m.declared[p[strings.LastIndex(p, " ")+1:]]...)
				continue
			}
			names = append(names, name)
			if ae, ok := m.live[name]; ok {
				// Every object that named its principal may have written to its entry.
				names = append(names, m.declared[ae.Spec.PrincipalARN]...)
				principals = append(principals, ae.Spec.PrincipalARN)
			}
		}
		slices.Sort(names)
		names = slices.Compact(names)
		slices.Sort(principals)
		for _, principal := range slices.Compact(principals) {
			problems = append(problems, journalOf(emu, principal)...)
		}
		problems = append(problems, m.rulesReport()...)
		for _, name := range names {
			for _, h := range m.history[name] {
				problems = append(problems, "    "+name+": "+h)
			}
			if ae, ok := m.final[name]; ok && m.live[name] != nil {
				if want, got := specText(&m.live[name].Spec), specText(&ae.Spec); want != got {
					problems = append(problems, fmt.Sprintf("    %s: the model's spec %s, the API server's %s", name, want, got))
				} else {
					problems = append(problems, fmt.Sprintf("    %s: spec %s", name, got))
				}
			}
			if ae, ok := m.final[name]; ok {
				problems = append(problems, fmt.Sprintf("    %s: at the end %s, identity %+v, retained %+v, revoked %q",
					name, conditionsOf(ae), ae.Status.Identity, ae.Status.RetainedEntries, ae.Status.Revoked))
			}
		}
		return &brokenInvariants{problems: problems, names: names}
	}
	return nil
}

// journalOf lists the writes EKS answered for a principal's entries, in every
// account, oldest first: with the histories and events, which write made an
// entry what it is.
func journalOf(emu *eksemulator.Server, principal string) []string {
	var out []string
	for _, w := range emu.Writes(principal) {
		body := w.Body
		if len(body) > 300 {
			body = body[:300] + "..."
		}
		out = append(out, fmt.Sprintf("    EKS write %s %s %s %s %s", w.Time.UTC().Format("15:04:05.000"), w.Account, w.Cluster, w.Op, body))
	}
	return out
}

// specText is what a spec asks of EKS, on one line.
func specText(s *v1.AccessEntrySpec) string {
	var policies []string
	for _, p := range s.AccessPolicies {
		policies = append(policies, fmt.Sprintf("%s@%s%v", p.PolicyARN[strings.LastIndex(p.PolicyARN, "/")+1:], p.AccessScope.Type, p.AccessScope.Namespaces))
	}
	return fmt.Sprintf("{groups %v username %q policies %v retain %v}", s.KubernetesGroups, s.Username, policies, s.DeletionPolicy)
}

// rulesReport says, per cluster, which rule set the model holds and whether
// the ClusterAccessConfig's tenants rule is that set's, with the changes of the
// run: the model judges by its set, the operator by the config.
func (m *model) rulesReport() []string {
	out := slices.Clone(m.ruleLog)
	for _, cl := range clusters {
		cac := &v1.ClusterAccessConfig{}
		if err := m.client(namespace).Get(context.Background(), client.ObjectKey{Name: cl}, cac); err != nil {
			out = append(out, fmt.Sprintf("    rules of %s: the model's set %q, the config: %v", cl, m.rules[cl], err))
			continue
		}
		want, _ := json.Marshal(ruleOf(m.rules[cl]).KubernetesGroups)
		var got []byte
		if len(cac.Spec.Guardrails.Rules) > 0 {
			got, _ = json.Marshal(cac.Spec.Guardrails.Rules[0].KubernetesGroups)
		}
		out = append(out, fmt.Sprintf("    rules of %s: the model's set %q (groups %s), the config's tenants rule: groups %s, namespaces %v, allowRetain %v",
			cl, m.rules[cl], want, got, firstRule(cac).Namespaces.Names, firstRule(cac).AllowRetain))
	}
	return out
}

func firstRule(cac *v1.ClusterAccessConfig) v1.GrantRule {
	if len(cac.Spec.Guardrails.Rules) == 0 {
		return v1.GrantRule{}
	}
	return cac.Spec.Guardrails.Rules[0]
}

// orphaned starts the problem of an entry nothing accounts for.
const orphaned = "an entry no live object declares and no Retain keeps: "

// brokenInvariants is what check found wrong, and the objects concerned.
type brokenInvariants struct {
	problems, names []string
}

func (b *brokenInvariants) Error() string {
	return fmt.Sprintf("%d invariants broken:\n  %s", len(b.problems), strings.Join(b.problems, "\n  "))
}

// eventsOf lists, oldest first, the events the operator recorded about the named
// objects, in every namespace the soak uses: with the histories, they tell what
// the operator did in the runs whose logs are gone.
func eventsOf(ctx context.Context, k8s client.Client, names []string) []string {
	var out []string
	for _, ns := range append([]string{namespace}, tenants...) {
		list := &eventsv1.EventList{}
		if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
			return append(out, "listing events: "+err.Error())
		}
		slices.SortFunc(list.Items, func(a, b eventsv1.Event) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
		for _, e := range list.Items {
			if slices.Contains(names, e.Regarding.Name) && e.Regarding.Namespace == ns {
				out = append(out, fmt.Sprintf("    %s: event %s %s %s: %s", e.Regarding.Name, e.CreationTimestamp.UTC().Format(time.TimeOnly), e.Type, e.Reason, e.Note))
			}
		}
	}
	return out
}

// countTenants counts how the tenant objects ended: allowed, refused, revoked.
func (m *model) countTenants(ctx context.Context, k8s client.Client, c *counts) error {
	for _, ns := range tenants {
		list := &v1.AccessEntryList{}
		if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, ae := range list.Items {
			switch {
			case meta.IsStatusConditionTrue(ae.Status.Conditions, v1.ConditionReady):
				c.tenants.allowed++
			case len(ae.Status.Revoked) > 0:
				c.tenants.refused++
				c.tenants.revoked++
			default:
				c.tenants.refused++
			}
		}
	}
	return nil
}

// matches lists how an EKS entry differs from its object's spec or, for a refused
// tenant object (v not allowed), from what its rule allows of the spec: nothing
// forbidden remains, and what is allowed is kept. The soak judges with its own
// comparison (ekscheck), not the operator's plan, so that a bug in the plan shows.
func (m *model) matches(ae *v1.AccessEntry, e eksemulator.Entry, v *guardrails.Verdict, c *counts) []string {
	var out []string
	want := ae
	if v != nil && !v.Allowed() {
		want = m.allowedOf(ae)
	}
	c.invariants += 6 // type, username, groups, tags, policies, bound to the current principal
	if staleSeen(e) {
		out = append(out, fmt.Sprintf("%s: the entry is bound to a principal since re-created in IAM", ae.Name))
	}
	return append(out, ekscheck.Differences(want, e, instance)...)
}

// allowedOf is what a refused tenant object, whose entry its rule still admits,
// keeps in EKS: its spec with the username (then EKS derives one), the groups and
// the policies the rule does not allow taken out. Each is judged alone, as an
// object asking for it and nothing else; the soak's rule sets hold one rule each,
// so that is the verdict's rule.
func (m *model) allowedOf(ae *v1.AccessEntry) *v1.AccessEntry {
	allows := func(ask func(*v1.AccessEntrySpec)) bool {
		one := ae.DeepCopy()
		// Each field alone: a refused Retain refuses the object, not its groups.
		one.Spec.Username, one.Spec.KubernetesGroups, one.Spec.AccessPolicies = "", nil, nil
		one.Spec.DeletionPolicy = v1.DeletionPolicyDelete
		ask(&one.Spec)
		return m.verdict(one).Allowed()
	}
	out := ae.DeepCopy()
	if out.Spec.Username != "" && !allows(func(s *v1.AccessEntrySpec) { s.Username = ae.Spec.Username }) {
		out.Spec.Username = ""
	}
	out.Spec.KubernetesGroups = slices.DeleteFunc(out.Spec.KubernetesGroups, func(g v1.KubernetesGroup) bool {
		return !allows(func(s *v1.AccessEntrySpec) { s.KubernetesGroups = []v1.KubernetesGroup{g} })
	})
	out.Spec.AccessPolicies = slices.DeleteFunc(out.Spec.AccessPolicies, func(p v1.AccessPolicy) bool {
		return !allows(func(s *v1.AccessEntrySpec) { s.AccessPolicies = []v1.AccessPolicy{p} })
	})
	return out
}

// limitRefused reports whether a tenant object ended refused for an entry
// limit, and its namespace has more live objects on the cluster than the limit
// of its rule set: which of them the operator lets in is its ordering's to say.
func (m *model) limitRefused(ae *v1.AccessEntry) bool {
	cur, ok := m.final[ae.Name]
	c := meta.FindStatusCondition(cur.Status.Conditions, v1.ConditionReady)
	if !ok || c == nil || c.Reason != v1.ReasonNotPermitted ||
		!(strings.Contains(c.Message, "maxEntriesPerNamespace") || strings.Contains(c.Message, "maxTenantEntries")) {
		return false
	}
	n := 0
	for _, o := range m.live {
		if o.Namespace == ae.Namespace && o.Spec.ClusterName == ae.Spec.ClusterName {
			n++
		}
	}
	return n > m.limitOf(ae.Namespace, ae.Spec.ClusterName)
}
