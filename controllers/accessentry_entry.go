package controllers

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// ensureEntry makes sure the entry of the identity exists and is this object's, and
// sets p.obs to it as EKS shows it. An entry status records is read first, and so
// is one the object asks to adopt; a new object's is created at once, which saves a
// read on the common path. plan.DecideAbsent says what an absent recorded entry
// means; claim settles one that exists.
func (r *AccessEntryReconciler) ensureEntry(ctx context.Context, p *entryPass) error {
	st := &p.ae.Status
	recorded := st.Identity != nil
	if recorded || p.ae.Annotations[v1.AdoptAnnotation] == "true" {
		obs, err := r.observe(ctx, p)
		if err != nil {
			return r.eksOutcome(p.id, err)
		}
		if obs != nil {
			return r.claim(ctx, p, obs, recorded)
		}
	}
	if recorded {
		switch plan.DecideAbsent(st, time.Now(), r.ConsistencyWindow) {
		case plan.AbsentWait:
			return waitFor(v1.ReasonWaitingForEKS, "the EKS access entry was created but is not visible yet")
		case plan.AbsentDeletedOutOfBand:
			driftCorrections.Inc()
			p.event(corev1.EventTypeWarning, "DriftCorrected", "the EKS access entry was deleted out of band; creating it again")
		}
	}
	return r.create(ctx, p)
}

// create records the identity in status, then creates the entry with its username,
// groups and tags (the ownership tags among them). Should the operator die before
// EKS answers, the next pass finds the entry through status, and deletes it if the
// object moved on or went away, instead of leaving an orphan. An entry that exists
// already is claimed; a create EKS refuses outright leaves nothing to look for.
func (r *AccessEntryReconciler) create(ctx context.Context, p *entryPass) error {
	desired := plan.DesiredFor(p.ae, p.id, r.InstanceID)
	recordedAt := metav1.Now()
	if err := r.recordIntent(ctx, p, func(st *v1.AccessEntryStatus) {
		if st.Identity == nil || *st.Identity != p.id {
			id := p.id
			st.Identity, st.IdentityRecordedAt = &id, &recordedAt
		}
		// The identity's time stays that of the first intent (an entry created
		// since then is this object's); this one says when the entry may show.
		st.CreateSentAt = &recordedAt
		st.RoleARN = p.target.RoleARN
		st.ManagedTags = union(st.ManagedTags, desired.SpecTagKeys)
	}); err != nil {
		return err
	}

	p.progress(v1.ReasonProgressing, "creating the EKS access entry")
	obs, err := p.eks.Create(ctx, awsapi.NewEntry{ID: p.id, Username: desired.Username, Groups: desired.Groups, Tags: desired.Tags})
	if err == nil {
		if p.id.Type.ListsPolicies() || len(p.ae.Spec.AccessPolicies) > 0 {
			obs.Policies = map[string]plan.ObservedPolicy{} // a new entry has none
		}
		id := p.id
		p.ae.Status.Identity, p.ae.Status.CreatedAt, p.ae.Status.AccessEntryARN = &id, metaTime(obs.CreatedAt), obs.ARN
		p.ae.Status.CreateSentAt = nil
		p.obs, p.written = obs, true
		p.event(corev1.EventTypeNormal, "Created", "created the EKS access entry of %s in cluster %s", p.id.PrincipalARN, p.id.ClusterName)
		return nil
	}
	switch awsapi.Classify(err) {
	case awsapi.InUse:
		obs, err := r.observe(ctx, p)
		if err != nil {
			return r.eksOutcome(p.id, err)
		}
		if obs == nil {
			// Deleted a moment ago (by us, on an identity change): EKS still holds the name.
			return waitFor(v1.ReasonWaitingForEKS, "an EKS access entry for this principal is still being deleted")
		}
		return r.claim(ctx, p, obs, false)
	case awsapi.InvalidSpec, awsapi.Refused, awsapi.ModeNotSupported, awsapi.ClusterNotFound, awsapi.AccessDenied, awsapi.AssumeRoleDenied, awsapi.BadCredentials, awsapi.InvalidPrincipal, awsapi.LimitExceeded:
		// EKS refused outright: nothing was created, nothing is to be looked for.
		if err := r.forgetIdentity(ctx, p); err != nil {
			return err
		}
	}
	return r.eksOutcome(p.id, err)
}

// claim acts on plan.DecideClaim for an entry that exists for the principal. It
// never writes to an entry the object does not own, except to adopt one that no
// AccessEntry records, that the object opted in for, and that the guardrails let
// it take over. recorded says the entry was read because status records it: one
// that turns out ours then needs no read-back.
func (r *AccessEntryReconciler) claim(ctx context.Context, p *entryPass, obs *plan.Observed, recorded bool) error {
	self, rec := r.owner(p.ae), plan.RecordOf(&p.ae.Status, p.id)
	var by *plan.Claimant
	if rec.ARN == "" || obs.ARN != rec.ARN {
		var err error
		if by, err = r.recordedBy(ctx, p.ae, obs.ARN); err != nil {
			return err
		}
	}
	decision := plan.DecideClaim(*obs, rec, self, by, p.id.Type, p.ae.Annotations[v1.AdoptAnnotation] == "true")
	if by == nil && decision != plan.ClaimOurs && decision != plan.ClaimLeftover && r.tenantLeftover(p, obs) {
		return r.takeOverLeftover(ctx, p, obs, self)
	}
	switch decision {
	case plan.ClaimLeftover:
		if err := p.eks.Delete(ctx, p.id.ClusterName, p.id.PrincipalARN); err != nil && !awsapi.IsNotFound(err) {
			return r.eksOutcome(p.id, err)
		}
		return waitFor(v1.ReasonWaitingForEKS, "the EKS access entry of the previous type is still being deleted")
	case plan.ClaimConflict, plan.ClaimAlreadyExists, plan.ClaimTypeMismatch:
		if err := r.forgetIdentity(ctx, p); err != nil {
			return err
		}
		return r.refuseClaim(decision, p, obs, by)
	case plan.ClaimAdopt:
		if err := r.adopt(ctx, p, obs, self); err != nil {
			return err
		}
	case plan.ClaimOurs:
		if plan.LostCreate(*obs, rec) {
			// Created under an intent whose create answer was lost: the tags it
			// carries are the ones that create wrote, whatever status still lists.
			p.ae.Status.ManagedTags = union(p.ae.Status.ManagedTags, plan.WrittenTagKeys(obs.Tags))
		}
		if recorded && !slices.Contains(rec.Retained, obs.ARN) {
			p.obs, p.ae.Status.AccessEntryARN = obs, obs.ARN
			return nil
		}
		// A retained entry read through the recorded identity (its create found it,
		// and the pass that would take it back died) is taken back below all the same.
	}
	r.takeEntry(p, obs)
	return nil
}

// tenantLeftover reports whether an entry the object does not own is a tenant's
// leftover that a platform object may take: the object is in a trusted
// namespace, no AccessEntry records the entry, and its ownership tags name a
// namespace outside the trusted ones (an object deleted under Retain, or one
// whose finalizer was removed). A tenant object never blocks the platform's.
func (r *AccessEntryReconciler) tenantLeftover(p *entryPass, obs *plan.Observed) bool {
	owner, tagged := ownership.Of(obs.Tags)
	if !tagged || owner.Instance != r.InstanceID || !guardrails.Trusted(p.ae.Namespace, r.TrustedNamespaces) {
		return false
	}
	if c := p.cac; c != nil && c.Status.ClusterCreatedAt != nil && guardrails.MadeForCreator(*obs, c.Status.ClusterCreatedAt.Time) {
		return false // forged tags on the creator's entry: adoption stays explicit
	}
	return !guardrails.Trusted(owner.Namespace, r.TrustedNamespaces)
}

// takeOverLeftover makes a tenant's leftover entry the platform object's own: it
// is tagged as the object's and, being the object's now, brought to its spec. An
// entry of another type than the object's is deleted first (EKS cannot change a
// type).
func (r *AccessEntryReconciler) takeOverLeftover(ctx context.Context, p *entryPass, obs *plan.Observed, self ownership.Owner) error {
	owner, _ := ownership.Of(obs.Tags)
	if obs.Type != string(p.id.Type) {
		if err := p.eks.Delete(ctx, p.id.ClusterName, p.id.PrincipalARN); err != nil && !awsapi.IsNotFound(err) {
			return r.eksOutcome(p.id, err)
		}
		p.event(corev1.EventTypeNormal, "TookOver", "deleted the %s entry of %s that AccessEntry %s/%s left behind, to create this object's", obs.Type, p.id.PrincipalARN, owner.Namespace, owner.Name)
		return waitFor(v1.ReasonWaitingForEKS, "the entry a tenant left behind, of another type, is being deleted")
	}
	ours := self.Tags()
	if err := p.eks.Tag(ctx, obs.ARN, ours); err != nil {
		return r.eksOutcome(p.id, err)
	}
	obs.Tags = maps.Clone(obs.Tags)
	maps.Copy(obs.Tags, ours)
	p.event(corev1.EventTypeNormal, "TookOver", "took over the EKS access entry of %s that AccessEntry %s/%s left behind: a trusted object's claim comes first", p.id.PrincipalARN, owner.Namespace, owner.Name)
	r.takeEntry(p, obs)
	return nil
}

// refuseClaim words a claim decision that leaves the entry alone: another
// object's, carrying tags this object did not write, unmanaged, or of another type.
func (r *AccessEntryReconciler) refuseClaim(decision plan.Claim, p *entryPass, obs *plan.Observed, by *plan.Claimant) error {
	switch decision {
	case plan.ClaimConflict:
		switch {
		case by != nil && !guardrails.Trusted(p.ae.Namespace, r.TrustedNamespaces):
			// A tenant learns that the principal is taken, not by whom: which
			// objects other namespaces hold is the platform's to know (the log).
			ctrl.Log.WithName("accessentry").Info("a tenant object names a principal another AccessEntry manages", "accessentry", client.ObjectKeyFromObject(p.ae), "principal", p.id.PrincipalARN, "managedBy", by.Namespace+"/"+by.Name)
			return stall(v1.ReasonConflict, r.RecheckInterval, "the EKS access entry of %s in cluster %s is managed by another AccessEntry; only one object may manage a principal. "+
				"Fix: name another principal, or ask the platform team", p.id.PrincipalARN, p.id.ClusterName)
		case by != nil:
			return stall(v1.ReasonConflict, r.RecheckInterval, "the EKS access entry of %s in cluster %s belongs to AccessEntry %s/%s; only one object may manage a principal. "+
				"Fix: name another principal, or delete one of the two objects",
				p.id.PrincipalARN, p.id.ClusterName, by.Namespace, by.Name)
		}
		return stall(v1.ReasonConflict, r.RecheckInterval,
			"the EKS access entry of %s in cluster %s carries this object's ownership tags, but this object did not create it: anyone allowed eks:TagResource can write them, "+
				"or it is left from an entry this object once retained. Fix: annotate this object with %s: \"true\" to take it over, if the guardrails allow",
			p.id.PrincipalARN, p.id.ClusterName, v1.AdoptAnnotation)
	case plan.ClaimAlreadyExists:
		return stall(v1.ReasonAlreadyExists, r.RecheckInterval, "an EKS access entry for %s already exists in cluster %s and no AccessEntry manages it; annotate this object with %s: \"true\" to take it over", p.id.PrincipalARN, p.id.ClusterName, v1.AdoptAnnotation)
	}
	return stall(v1.ReasonAlreadyExists, r.RecheckInterval, "the existing EKS access entry for %s is of type %s, not %s, and EKS cannot change a type; set spec.type to %s to adopt it", p.id.PrincipalARN, obs.Type, p.id.Type, obs.Type)
}

// adopt takes over an entry no AccessEntry records, which the object asks to
// adopt, once the guardrails allow it: the ownership tags mark it, and status
// recording its ARN (takeEntry) makes it the object's.
//
// An adoption refused is NotPermitted like a guardrail refusal, but comes after
// the guardrails allowed the spec: its message says notAdoptable, so that
// schedule tells the two apart.
func (r *AccessEntryReconciler) adopt(ctx context.Context, p *entryPass, obs *plan.Observed, self ownership.Owner) error {
	if problems := r.adoptionProblems(p, obs); len(problems) > 0 {
		if err := r.forgetIdentity(ctx, p); err != nil {
			return err
		}
		return stall(v1.ReasonNotPermitted, r.RecheckInterval, "the existing EKS access entry of %s in cluster %s "+notAdoptable+": %s. Fix: remove the %s annotation and name another principal, or ask the platform team",
			p.id.PrincipalARN, p.id.ClusterName, strings.Join(problems, "; "), v1.AdoptAnnotation)
	}
	// What it holds now is recorded first: at the object's expiry, only what
	// the object adds to it is taken away.
	adopted := adoptedFrom(obs)
	if err := r.recordIntent(ctx, p, func(st *v1.AccessEntryStatus) { st.Adopted = adopted.DeepCopy() }); err != nil {
		return err
	}
	// The ownership tags mark it; status recording its ARN makes it ours.
	ours := self.Tags()
	if err := p.eks.Tag(ctx, obs.ARN, ours); err != nil {
		return r.eksOutcome(p.id, err)
	}
	obs.Tags = maps.Clone(obs.Tags)
	if obs.Tags == nil {
		obs.Tags = map[string]string{}
	}
	maps.Copy(obs.Tags, ours)
	p.event(corev1.EventTypeNormal, "Adopted", "took over the existing EKS access entry of %s in cluster %s", p.id.PrincipalARN, p.id.ClusterName)
	return nil
}

// adoptedFrom is what an entry holds, as status records it at adoption.
func adoptedFrom(obs *plan.Observed) *v1.AdoptedEntry {
	a := &v1.AdoptedEntry{ARN: obs.ARN, Username: obs.Username, KubernetesGroups: plan.Sorted(obs.Groups), TagKeys: slices.Sorted(maps.Keys(obs.Tags))}
	for _, arn := range slices.Sorted(maps.Keys(obs.Policies)) {
		s := obs.Policies[arn].Scope
		a.AccessPolicies = append(a.AccessPolicies, v1.AssociatedAccessPolicy{PolicyARN: arn,
			AccessScope: v1.ObservedAccessScope{Type: v1.AccessScopeType(s.Type), Namespaces: slices.Clone(s.Namespaces)}})
	}
	return a
}

// takeEntry makes obs the object's current entry in status.
func (r *AccessEntryReconciler) takeEntry(p *entryPass, obs *plan.Observed) {
	id := p.id
	p.ae.Status.Identity, p.ae.Status.CreatedAt, p.ae.Status.AccessEntryARN = &id, metaTime(obs.CreatedAt), obs.ARN
	p.ae.Status.RoleARN = p.target.RoleARN
	// An entry retained earlier and moved back to is the current one again, with
	// the tag keys the object wrote on it then, so that those its spec dropped go.
	p.ae.Status.RetainedEntries = slices.DeleteFunc(p.ae.Status.RetainedEntries, func(e v1.RetainedEntry) bool {
		if e.ARN == obs.ARN {
			p.ae.Status.ManagedTags = union(p.ae.Status.ManagedTags, e.ManagedTags)
		}
		return e.ARN == obs.ARN
	})
	p.obs, p.written = obs, true
}

// recordedBy is the other AccessEntry whose status records the entry ARN, if any,
// read from the API server across every namespace and shard (the cache holds only
// this instance's shard).
func (r *AccessEntryReconciler) recordedBy(ctx context.Context, ae *v1.AccessEntry, arn string) (*plan.Claimant, error) {
	list := &v1.AccessEntryList{}
	if err := r.APIReader.List(ctx, list, client.MatchingFields{accessEntryARNField: arn}); err != nil {
		return nil, err
	}
	for _, other := range list.Items {
		if other.UID != ae.UID && other.Status.AccessEntryARN == arn {
			return &plan.Claimant{Namespace: other.Namespace, Name: other.Name}, nil
		}
	}
	return nil, nil
}

// checkSpelling stops the pass in Conflict when another object has the
// principal in another letter case, ahead of this one (spelledOtherwise),
// which EKS would not tell; an entry this object holds of it is given up. It
// runs every pass, due or not, as two objects may have created their entries
// at once. An entry another object retained in another spelling
// (retainedOtherwise) only keeps an object that holds none from creating one:
// a retained entry is a leftover, judged by pruning, and never costs a live
// object the entry it holds.
func (r *AccessEntryReconciler) checkSpelling(ctx context.Context, p *entryPass) error {
	holds := p.ae.Status.AccessEntryARN != ""
	by, err := r.spelledOtherwise(ctx, p)
	if err == nil && by == nil && !holds {
		by, err = r.retainedOtherwise(ctx, p)
	}
	switch {
	case err != nil || by == nil:
		return err
	case holds:
		return r.yieldSpelling(ctx, p, by)
	}
	return r.refuseSpelling(p, by)
}

// spelledOtherwise is the AccessEntry that has the object's principal, spelled
// in another letter case, on its cluster in its account and region, ahead of the
// object: a trusted one ahead of a tenant's, else as spelledFirst says. IAM
// names are case-insensitive, so both spellings are one role, though EKS may
// keep an entry for each. Nil when none is ahead.
func (r *AccessEntryReconciler) spelledOtherwise(ctx context.Context, p *entryPass) (*plan.Claimant, error) {
	list := &v1.AccessEntryList{}
	if err := r.List(ctx, list, client.MatchingFields{principalField: principalKey(p.id.ClusterName, p.id.PrincipalARN)}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	now, trusted := time.Now(), guardrails.Trusted(p.ae.Namespace, r.TrustedNamespaces)
	for i := range list.Items {
		o := &list.Items[i]
		id := o.Status.Identity
		if o.UID == p.ae.UID || id == nil || id.PrincipalARN == p.id.PrincipalARN || !strings.EqualFold(id.PrincipalARN, p.id.PrincipalARN) ||
			id.ClusterName != p.id.ClusterName || id.Region != p.id.Region || id.Account != p.id.Account {
			continue
		}
		// The platform's objects come before the tenants', as in every claim.
		otherTrusted := guardrails.Trusted(o.Namespace, r.TrustedNamespaces)
		if otherTrusted == trusted && r.spelledFirst(o, p, now) || otherTrusted && !trusted {
			return &plan.Claimant{Namespace: o.Namespace, Name: o.Name}, nil
		}
	}
	return nil, nil
}

// retainedOtherwise is the AccessEntry that retained an entry of the object's
// principal spelled in another letter case, in its cluster and region: that
// entry was there before any entry of the object's spelling could be, so it
// comes first. Only a retainer in the object's own namespace or a trusted one
// counts: what a tenant left behind never blocks the platform or another
// namespace (the entry ARN names no path, so a tenant's record could name any
// role of the same name).
func (r *AccessEntryReconciler) retainedOtherwise(ctx context.Context, p *entryPass) (*plan.Claimant, error) {
	key := retainedKeyOf(p.id)
	if key == "" {
		return nil, nil
	}
	list := &v1.AccessEntryList{}
	if err := r.List(ctx, list, client.MatchingFields{retainedField: key}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	name := p.id.PrincipalARN[strings.LastIndex(p.id.PrincipalARN, "/")+1:]
	for i := range list.Items {
		o := &list.Items[i]
		for _, e := range o.Status.RetainedEntries {
			// The same principal (by key) in another spelling (by name).
			counts := o.Namespace == p.ae.Namespace || guardrails.Trusted(o.Namespace, r.TrustedNamespaces)
			if k, n := retainedKeyAndName(e.ARN); o.UID != p.ae.UID && counts && k == key && n != name {
				return &plan.Claimant{Namespace: o.Namespace, Name: o.Name}, nil
			}
		}
	}
	return nil, nil
}

// spelledFirst reports whether o, which names the pass's principal in another
// spelling, comes first (plan.SpelledFirst).
func (r *AccessEntryReconciler) spelledFirst(o *v1.AccessEntry, p *entryPass, now time.Time) bool {
	self := plan.Spelling{Status: &p.ae.Status, Created: p.ae.CreationTimestamp.Time, Key: p.ae.Namespace + "/" + p.ae.Name,
		Holds: p.ae.Status.AccessEntryARN != "" && p.ae.Status.Identity != nil && *p.ae.Status.Identity == p.id}
	other := plan.Spelling{Status: &o.Status, Created: o.CreationTimestamp.Time, Key: o.Namespace + "/" + o.Name,
		Holds: o.Status.AccessEntryARN != ""}
	return plan.SpelledFirst(other, self, now, r.ConsistencyWindow)
}

// yieldSpelling gives up the entry the object holds of a principal that an
// object ahead of it (spelledFirst) holds in another spelling: the two created
// their entries at once. The object's own entry is deleted, and it is in
// Conflict.
func (r *AccessEntryReconciler) yieldSpelling(ctx context.Context, p *entryPass, by *plan.Claimant) error {
	removal, err := r.remove(ctx, p, p.at(), false)
	switch {
	case err != nil:
		return err
	case removal == plan.RemovalWait:
		return waitFor(v1.ReasonWaitingForEKS, "the EKS access entry, to be given up (another AccessEntry manages the principal spelled in another letter case), is not visible yet")
	}
	if err := r.resetStatus(ctx, p, false); err != nil {
		return err
	}
	if removal == plan.RemovalDelete {
		p.event(corev1.EventTypeWarning, "Revoked", "deleted the EKS access entry of %s in cluster %s: another AccessEntry manages the principal, spelled in another letter case",
			p.id.PrincipalARN, p.id.ClusterName)
	}
	return r.refuseSpelling(p, by)
}

// refuseSpelling words a principal another object holds under another spelling:
// Conflict, as for one it holds under the same; a tenant learns not by whom.
func (r *AccessEntryReconciler) refuseSpelling(p *entryPass, by *plan.Claimant) error {
	const why = "IAM names are case-insensitive, so both spellings are one role"
	if guardrails.Trusted(p.ae.Namespace, r.TrustedNamespaces) {
		return stall(v1.ReasonConflict, r.RecheckInterval, "AccessEntry %s/%s manages %s in cluster %s, spelled in another letter case (%s); only one object may manage a principal. Fix: delete one of the two objects",
			by.Namespace, by.Name, p.id.PrincipalARN, p.id.ClusterName, why)
	}
	ctrl.Log.WithName("accessentry").Info("a tenant object names, in another letter case, a principal another AccessEntry manages", "accessentry", client.ObjectKeyFromObject(p.ae), "principal", p.id.PrincipalARN, "managedBy", by.Namespace+"/"+by.Name)
	return stall(v1.ReasonConflict, r.RecheckInterval, "another AccessEntry manages %s in cluster %s, spelled in another letter case (%s); only one object may manage a principal. Fix: name another principal, or ask the platform team",
		p.id.PrincipalARN, p.id.ClusterName, why)
}

// accessEntryARNField selects AccessEntries by the entry their status records (a
// selectable field of the CRD).
const accessEntryARNField = "status.accessEntryARN"

// owner is the object as the ownership tags name it.
func (r *AccessEntryReconciler) owner(ae *v1.AccessEntry) ownership.Owner {
	return ownership.Owner{Instance: r.InstanceID, Namespace: ae.Namespace, Name: ae.Name}
}
