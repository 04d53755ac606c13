package controllers

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// judgeLeftover holds to its namespace's current rule an entry that an
// AccessEntry of a namespace outside the trusted ones left in EKS (deletionPolicy
// Retain, say) and that no object has as its current entry (leftoverOwner): its
// ownership tags would otherwise keep it Protected for ever, a grant outliving
// the tenant's right to it. What the rules with allowRetain no longer allow is
// removed, or the whole entry when they allow none of it
// (guardrails.JudgeLeftover), whatever spec.unmanagedEntries.policy says: this is
// enforcement, and with spec.guardrails.enforcement Report it only reports. nil:
// not such a leftover, or nothing to remove; DecidePrune decides as for any other.
func (r *ClusterAccessConfigReconciler) judgeLeftover(ctx context.Context, p *clusterPass, principal string, obs *plan.Observed) (*v1.UnmanagedEntry, error) {
	owner, ok, err := r.leftoverOwner(ctx, p, principal, obs)
	if err != nil || !ok {
		return nil, err
	}
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, client.ObjectKey{Name: owner.Namespace}, ns); client.IgnoreNotFound(err) != nil {
		return nil, err
	}
	cac := p.cac
	id := v1.EntryIdentity{ClusterName: cac.Spec.ClusterName, Region: p.region, Account: cac.Status.AccountID, PrincipalARN: principal, Type: v1.AccessEntryType(obs.Type)}
	cfg := guardrailConfig(cac)
	l := guardrails.JudgeLeftover(cfg, owner.Namespace, ns.Labels, id, *obs)
	why := l.Reason()
	if by, err := r.platformDeclares(ctx, p, principal); err != nil {
		return nil, err
	} else if by != "" && !l.Delete {
		l.Delete = true
		why = fmt.Sprintf("AccessEntry %s of a trusted namespace declares the principal (IAM names are case-insensitive): a tenant's leftover never stands beside the platform's entry", by)
	}
	if limit := cfg.LimitOf(owner.Namespace, ns.Labels); !l.Delete && !p.room.admit(owner.Namespace, limit) {
		l.Delete = true
		why = fmt.Sprintf("namespace %s fills its entry limit in the cluster (%d, maxEntriesPerNamespace) with its objects' entries and the leftovers kept before this one", owner.Namespace, limit)
	}
	report := cac.Spec.Guardrails.Enforcement == v1.EnforcementReport
	what, pl := "the whole entry", plan.Plan{}
	if !l.Delete {
		pl = plan.Compute(l.Keep, *obs, nil)
		revoked := revokedBy(pl, *obs, principal)
		if len(revoked) == 0 {
			return nil, nil
		}
		what = strings.Join(revoked, ", ")
	}
	u := unmanagedEntry(cac, principal, obs)
	u.Action = guardrails.PruneRevoked
	done := "removed"
	if report {
		u.Action, done = guardrails.PruneWouldRevoke, "with enforcement Revoke the operator would remove"
	}
	u.Reason = fmt.Sprintf("left by AccessEntry %s/%s, which no longer records it, and %s: %s %s", owner.Namespace, owner.Name, why, done, what)
	if !report {
		if err := r.revokeLeftover(ctx, p, awsapi.Entry{ID: id, ARN: obs.ARN}, leftoverChange{delete: l.Delete, plan: pl, obs: obs}); err != nil {
			return nil, err
		}
	}
	if !report || !slices.Contains(p.base.Status.UnmanagedEntries, u) {
		p.events.add(corev1.EventTypeWarning, u.Action, "the EKS access entry of %s in cluster %s: %s", principal, cac.Spec.ClusterName, u.Reason)
	}
	// Recorded at once, as pruneEntry does: a pass cut short still says what it removed.
	if !report && !slices.Contains(cac.Status.UnmanagedEntries, u) {
		cac.Status.UnmanagedEntries = append(cac.Status.UnmanagedEntries, u)
	}
	return &u, nil
}

// leftoverChange is what revokeLeftover writes: the whole entry deleted, or a plan.
type leftoverChange struct {
	delete bool
	plan   plan.Plan
	obs    *plan.Observed
}

// revokeLeftover deletes a leftover entry, or applies the plan that takes from it
// what its rule no longer allows. An entry already gone is success.
func (r *ClusterAccessConfigReconciler) revokeLeftover(ctx context.Context, p *clusterPass, e awsapi.Entry, c leftoverChange) error {
	var err error
	if c.delete {
		err = p.eks.Delete(ctx, e.ID.ClusterName, e.ID.PrincipalARN)
	} else {
		err = p.eks.Apply(ctx, e, c.plan, c.obs)
	}
	if err != nil && !awsapi.IsNotFound(err) {
		return r.eksOutcome(p, err)
	}
	return nil
}

// leftoverOwner says whether an entry is one judgeLeftover judges, and which object
// its ownership tags name: tags of this operator instance naming a namespace
// outside the trusted ones, and an object there that is gone or does not record
// the entry as its current one (it may keep it among its retained entries). Never an entry a
// protect pattern names or one EKS made (guardrails.MadeByEKS), for which it
// lists the entry's policies. Principals an AccessEntry of a trusted namespace
// declares never get here (declared).
func (r *ClusterAccessConfigReconciler) leftoverOwner(ctx context.Context, p *clusterPass, principal string, obs *plan.Observed) (ownership.Owner, bool, error) {
	cac := p.cac
	owner, tagged := ownership.Of(obs.Tags)
	if !tagged || r.InstanceID == "" || owner.Instance != r.InstanceID || guardrails.Trusted(owner.Namespace, r.TrustedNamespaces) ||
		guardrails.Protected(cac.Spec.UnmanagedEntries.Protect, principal) {
		return owner, false, nil
	}
	if obs.Policies == nil && v1.AccessEntryType(obs.Type).ListsPolicies() {
		policies, err := p.eks.Policies(ctx, cac.Spec.ClusterName, principal)
		switch {
		case awsapi.IsNotFound(err):
			return owner, false, nil // gone since it was read
		case err != nil:
			return owner, false, r.eksOutcome(p, err)
		}
		obs.Policies = policies
	}
	var created time.Time
	if c := cac.Status.ClusterCreatedAt; c != nil {
		created = c.Time
	}
	if guardrails.MadeByEKS(principal, *obs, created) != "" {
		return owner, false, nil
	}
	ae := &v1.AccessEntry{}
	switch err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: owner.Namespace, Name: owner.Name}, ae); {
	case apierrors.IsNotFound(err):
		return owner, true, nil
	case err != nil:
		return owner, false, err
	}
	// An object the operator let go (its finalizer removed) that another
	// finalizer holds in deletion answers for nothing any more: the entry it
	// kept under Retain is left behind, as if the object were gone (red team,
	// 2026-12-06: a tenant's own finalizer kept such entries out of pruning and
	// the entry limits). An entry the object only keeps among its retained ones
	// (it moved away under Retain) is judged too: the object judges only its
	// current entry.
	letGo := !ae.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(ae, v1.Finalizer)
	return owner, letGo || obs.ARN != ae.Status.AccessEntryARN, nil
}

// refusedClaims are the Ready reasons of an object refused the entry of its
// principal: another object's (Conflict), one nobody manages that it does not
// adopt or is of another type (AlreadyExists), or one it may not adopt
// (NotPermitted, when the guardrails allow its spec).
var refusedClaims = []string{v1.ReasonConflict, v1.ReasonAlreadyExists, v1.ReasonNotPermitted}

// shield is how far an AccessEntry keeps its principal's entry from pruning.
type shield int

const (
	// shieldsNothing: the object can never have the entry.
	shieldsNothing shield = iota
	// shieldsOwnEntry: the object may still create its entry, so an entry
	// carrying ownership tags (one being made for it) is held back; an entry
	// without them it would be refused (AlreadyExists), so that one is judged.
	shieldsOwnEntry
	// shieldsAny: the object holds the entry, or may adopt whatever is there.
	shieldsAny
)

// mayOwn says how far an AccessEntry outside the trusted namespaces, which the
// guardrails allow (v), shields its principal's entry from pruning: whatever
// entry is there when its status records an entry of the principal in the
// cluster, or when it asks to adopt and its rule allows adoption; only an entry
// being made for it when it may still create one; nothing once it was refused
// the entry. Judged from the spec as well as the Ready reason: a refused object
// passes through other reasons on each recheck ("creating the EKS access
// entry", before EKS refuses it again), and must not shield meanwhile an entry
// it can never have.
func mayOwn(ae *v1.AccessEntry, v guardrails.Verdict, cluster string) shield {
	if id := ae.Status.Identity; id != nil && id.PrincipalARN == ae.Principal() && id.ClusterName == cluster && ae.Status.AccessEntryARN != "" {
		return shieldsAny
	}
	if c := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReady); c != nil && slices.Contains(refusedClaims, c.Reason) {
		return shieldsNothing
	}
	switch {
	case ae.Annotations[v1.AdoptAnnotation] != "true":
		return shieldsOwnEntry
	case v.AllowsAdoption():
		return shieldsAny
	}
	return shieldsNothing
}

// leftoverRoom holds the leftovers a full pass keeps to their namespace's entry
// limit (maxEntriesPerNamespace), so that Retain, on deletion or on a move, never
// lets a namespace hold more entries in the cluster than its rule allows
// objects: the namespace's objects holding their current entry come first, then
// the leftovers in the order the pass judges them; those past the limit are
// deleted. A pass cut short between a leftover's judgement and its write counts
// it again when it goes on: at most one more deleted than needed, until the
// next pass.
type leftoverRoom struct {
	held, kept map[string]int
}

// roomOf counts, per namespace outside the trusted ones, the objects that hold
// their current entry in the pass's cluster.
func (r *ClusterAccessConfigReconciler) roomOf(ctx context.Context, p *clusterPass) (*leftoverRoom, error) {
	list := &v1.AccessEntryList{}
	if err := r.APIReader.List(ctx, list, client.MatchingFields{clusterNameField: p.cac.Spec.ClusterName}); err != nil {
		return nil, err
	}
	room := &leftoverRoom{held: map[string]int{}, kept: map[string]int{}}
	for i := range list.Items {
		o := &list.Items[i]
		id := o.Status.Identity
		if o.DeletionTimestamp.IsZero() && !guardrails.Trusted(o.Namespace, r.TrustedNamespaces) && o.Status.AccessEntryARN != "" &&
			id != nil && id.ClusterName == p.cac.Spec.ClusterName && id.Region == p.region {
			room.held[o.Namespace]++
		}
	}
	return room, nil
}

// admit counts a leftover of namespace ns kept; false when the namespace's
// objects and the leftovers kept before fill its limit already. Outside a
// full pass (a hinted principal, judged alone), always true: the next full
// pass holds the namespace to its limit.
func (room *leftoverRoom) admit(ns string, limit int) bool {
	if room == nil {
		return true
	}
	if room.held[ns]+room.kept[ns] >= limit {
		return false
	}
	room.kept[ns]++
	return true
}

// platformDeclares names the AccessEntry of a trusted namespace that declares
// the principal in the pass's cluster, in any letter case; "" when none does.
// A tenant's leftover of it is deleted, as the entry a tenant held of such a
// principal is (red team, 2026-12-06: a leftover spelled Tool4 kept View at
// cluster scope beside the platform's tool4).
func (r *ClusterAccessConfigReconciler) platformDeclares(ctx context.Context, p *clusterPass, principal string) (string, error) {
	list := &v1.AccessEntryList{}
	if err := r.List(ctx, list, client.MatchingFields{principalField: principalKey(p.cac.Spec.ClusterName, principal)}, client.UnsafeDisableDeepCopy); err != nil {
		return "", err
	}
	for i := range list.Items {
		o := &list.Items[i]
		if o.DeletionTimestamp.IsZero() && guardrails.Trusted(o.Namespace, r.TrustedNamespaces) && cmp.Or(o.Spec.Region, r.DefaultRegion) == p.region {
			return o.Namespace + "/" + o.Name, nil
		}
	}
	return "", nil
}
