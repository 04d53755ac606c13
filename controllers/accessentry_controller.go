package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// AccessEntryReconciler makes EKS hold the access entry each AccessEntry declares.
type AccessEntryReconciler struct {
	client.Client
	EKS      EKSClients
	Recorder events.EventRecorder

	// InstanceID goes into the ownership tags: entries tagged by another instance
	// are never touched.
	InstanceID string
	// DefaultRegion is used for objects without spec.region.
	DefaultRegion string
	// ResyncPeriod is how often an object is re-read from EKS to correct drift.
	ResyncPeriod time.Duration
	// StallAfter is how long the operator waits on EKS (a principal IAM has not
	// propagated, a change EKS does not show) before it reports Stalled.
	StallAfter time.Duration
	// RecheckInterval is how often a condition only a person can fix (CONFIG_MAP
	// cluster, missing cluster, denied permission) is checked again.
	RecheckInterval time.Duration
	// ConsistencyWindow is how long an entry the operator created may read as
	// absent before it is taken as deleted out of band and created again.
	ConsistencyWindow time.Duration
	// MaxConcurrentReconciles bounds the workers.
	MaxConcurrentReconciles int
	// RequireClusterConfig makes an AccessEntry without a matching
	// ClusterAccessConfig NotPermitted (multi-tenant installs).
	RequireClusterConfig bool
	// Principals reads principals' unique IDs from IAM; nil turns the check off.
	Principals Principals
	// PrincipalCheckInterval is how often, at most, the principal of an entry is
	// looked up in IAM, to notice it was deleted or created again; 0 turns it off.
	PrincipalCheckInterval time.Duration

	// nextPrincipalCheck holds, by object UID, when its principal is due a lookup.
	nextPrincipalCheck sync.Map
}

// clusterNameField indexes AccessEntries by spec.clusterName, to find those a
// ClusterAccessConfig governs.
const clusterNameField = "spec.clusterName"

// SetupWithManager registers the controller. Status patches and the operator's own
// finalizer patches do not start a reconcile: only spec, label and annotation
// changes and deletion do; drift is found by the periodic resync.
func (r *AccessEntryReconciler) SetupWithManager(mgr ctrl.Manager) error {
	deletion := predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return !e.ObjectNew.GetDeletionTimestamp().IsZero()
	}}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1.AccessEntry{}, clusterNameField, func(o client.Object) []string {
		return []string{o.(*v1.AccessEntry).Spec.ClusterName}
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.AccessEntry{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{},
			predicate.LabelChangedPredicate{}, deletion))).
		// A ClusterAccessConfig change (guardrails, or its cluster back to ACTIVE)
		// concerns every AccessEntry of its cluster.
		Watches(&v1.ClusterAccessConfig{}, handler.EnqueueRequestsFromMapFunc(r.entriesOfCluster)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.MaxConcurrentReconciles, 1)}).
		Named("accessentry").
		Complete(r)
}

// entriesOfCluster lists the AccessEntries a ClusterAccessConfig governs.
func (r *AccessEntryReconciler) entriesOfCluster(ctx context.Context, o client.Object) []reconcile.Request {
	cac := o.(*v1.ClusterAccessConfig)
	list := &v1.AccessEntryList{}
	if err := r.List(ctx, list, client.MatchingFields{clusterNameField: cac.Spec.ClusterName}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing the AccessEntries of a cluster", "cluster", cac.Spec.ClusterName)
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, ae := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&ae)})
	}
	return reqs
}

// Reconcile gets the object, then deletes or creates and updates its EKS entry, and
// writes what it saw into status with one patch.
func (r *AccessEntryReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	ae := &v1.AccessEntry{}
	if err := r.Get(ctx, req.NamespacedName, ae); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	if ae.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(ae, v1.Finalizer) {
		before := ae.DeepCopy()
		controllerutil.AddFinalizer(ae, v1.Finalizer)
		if err := r.Patch(ctx, ae, client.MergeFrom(before)); err != nil {
			return ctrl.Result{}, err
		}
	}

	orig := ae.DeepCopy()
	defer func() {
		if err := r.patchStatus(ctx, orig, ae); err != nil {
			retErr = errors.Join(retErr, err)
		}
	}()

	if !ae.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, ae)
	}
	return r.reconcileEntry(ctx, ae)
}

// patchStatus writes status when it changed, and records an event when Ready moved
// to a new failure reason.
func (r *AccessEntryReconciler) patchStatus(ctx context.Context, orig, ae *v1.AccessEntry) error {
	if equality.Semantic.DeepEqual(orig.Status, ae.Status) {
		return nil
	}
	was := meta.FindStatusCondition(orig.Status.Conditions, v1.ConditionReady)
	now := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReady)
	if now != nil && now.Status == metav1.ConditionFalse && (was == nil || was.Reason != now.Reason) &&
		now.Reason != v1.ReasonProgressing && now.Reason != v1.ReasonWaitingForEKS && now.Reason != v1.ReasonDeleting {
		r.event(ae, corev1.EventTypeWarning, now.Reason, "%s", now.Message)
	}
	return client.IgnoreNotFound(r.Status().Patch(ctx, ae, client.MergeFrom(orig)))
}

// reconcileEntry moves the entry to a new identity if the spec's changed, makes sure
// it exists and is ours, applies the plan, and reads EKS back before Ready.
func (r *AccessEntryReconciler) reconcileEntry(ctx context.Context, ae *v1.AccessEntry) (ctrl.Result, error) {
	cac, err := r.clusterConfig(ctx, ae.Spec.ClusterName, ae.Spec.Region)
	if err != nil {
		return ctrl.Result{}, err
	}
	id, ok := r.identity(ae, cac)
	if !ok {
		r.stalled(ae, v1.ReasonNoRegion, "spec.region is empty and the operator has no default region: set spec.region or start the operator with --region")
		return ctrl.Result{}, nil
	}
	if res, err, ok := r.permitted(ctx, ae, cac); !ok {
		return res, err
	}
	t := r.target(id.Region, cac)
	cl := r.EKS.For(t)
	// Synced at this generation before: whatever has to be written now is drift.
	ready := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReady)
	synced := ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == ae.Generation

	if old := ae.Status.Identity; old != nil && *old != id {
		if res, err, done := r.retire(ctx, ae, *old); !done {
			return res, err
		}
	}

	obs, wrote, res, err, ok := r.ensureEntry(ctx, cl, ae, id)
	if !ok {
		return res, err
	}
	if !wrote {
		recreate, res, err, ok := r.checkPrincipal(ctx, ae, id, t, obs)
		if !ok {
			return res, err
		}
		if recreate {
			if obs, wrote, res, err, ok = r.ensureEntry(ctx, cl, ae, id); !ok {
				return res, err
			}
		}
	}

	desired := DesiredFor(ae, id, r.InstanceID)
	if p := ComputePlan(desired, *obs, ae.Status.ManagedTags); !p.Empty() {
		r.progressing(ae, v1.ReasonProgressing, "updating the EKS access entry")
		if len(p.SetTags) > 0 {
			// Tags are written before they are recorded as ours; record them first,
			// so that a crash in between cannot leave a tag nobody removes.
			if err := r.recordIntent(ctx, ae, func(st *v1.AccessEntryStatus) {
				st.ManagedTags = union(st.ManagedTags, desired.SpecTagKeys)
			}); err != nil {
				return ctrl.Result{}, err
			}
		}
		if err := r.apply(ctx, cl, id, obs.ARN, p); err != nil {
			return r.eksFailure(ae, id, err)
		}
		if !wrote && synced {
			driftCorrections.Inc()
			r.event(ae, corev1.EventTypeNormal, "DriftCorrected", "put back %d out-of-band change(s) to the EKS access entry", p.Writes())
		} else if !wrote {
			r.event(ae, corev1.EventTypeNormal, "Updated", "updated the EKS access entry (%d change(s))", p.Writes())
		}
		wrote = true
	}
	ae.Status.ManagedTags = desired.SpecTagKeys

	if wrote {
		// Ready only on a read-back: observe again and compare.
		obs, err = r.observe(ctx, cl, id)
		if err != nil {
			return r.eksFailure(ae, id, err)
		}
		if obs == nil {
			return r.waitForEKS(ae, "the EKS access entry was written but does not read back yet")
		}
		if p := ComputePlan(desired, *obs, ae.Status.ManagedTags); !p.Empty() {
			recordObserved(ae, obs)
			return r.waitForEKS(ae, "EKS does not show the changes yet")
		}
	}
	recordObserved(ae, obs)
	r.ready(ae, "the EKS access entry matches the spec")
	return ctrl.Result{RequeueAfter: wait.Jitter(r.ResyncPeriod, 0.1)}, nil
}

// clusterConfig finds the ClusterAccessConfig of a cluster: same name, and the same
// region when one is given. nil when there is none.
func (r *AccessEntryReconciler) clusterConfig(ctx context.Context, cluster, region string) (*v1.ClusterAccessConfig, error) {
	list := &v1.ClusterAccessConfigList{}
	if err := r.List(ctx, list); err != nil {
		return nil, err
	}
	for i, c := range list.Items {
		if c.Spec.ClusterName != cluster {
			continue
		}
		if region == "" || cmp.Or(c.Spec.Region, r.DefaultRegion) == region {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}

// permitted holds the object to its cluster's guardrails, and to the rule that a
// ClusterAccessConfig must exist when the operator requires one; it also makes
// the object wait while its cluster is UPDATING. ok is false when the reconcile
// stops there with res and err, having written nothing to EKS.
func (r *AccessEntryReconciler) permitted(ctx context.Context, ae *v1.AccessEntry, cac *v1.ClusterAccessConfig) (res ctrl.Result, err error, ok bool) {
	if cac == nil {
		if r.RequireClusterConfig {
			r.stalled(ae, v1.ReasonNotPermitted, fmt.Sprintf("no ClusterAccessConfig for cluster %s, and this operator requires one (--require-cluster-config): ask the platform team to create it", ae.Spec.ClusterName))
			return ctrl.Result{}, nil, false
		}
		return ctrl.Result{}, nil, true
	}
	var nsLabels map[string]string
	if cac.Spec.Guardrails.NamespaceSelector != nil {
		ns := &corev1.Namespace{}
		if err := r.Get(ctx, client.ObjectKey{Name: ae.Namespace}, ns); err != nil {
			return ctrl.Result{}, err, false
		}
		nsLabels = ns.Labels
	}
	if v := CheckGuardrails(ae, cac.Spec.Guardrails, nsLabels); len(v) > 0 {
		r.stalled(ae, v1.ReasonNotPermitted, fmt.Sprintf("not permitted by ClusterAccessConfig %s: %s", cac.Name, strings.Join(v, "; ")))
		return ctrl.Result{}, nil, false
	}
	if cac.Status.ClusterStatus == "UPDATING" {
		// The ClusterAccessConfig watch brings the object back when the cluster is ACTIVE.
		r.progressing(ae, v1.ReasonClusterUpdating, fmt.Sprintf("cluster %s is UPDATING (authentication mode); waiting for it to be ACTIVE", cac.Spec.ClusterName))
		return ctrl.Result{RequeueAfter: r.RecheckInterval}, nil, false
	}
	return ctrl.Result{}, nil, true
}

// target is where the calls for a cluster go: its ClusterAccessConfig's role, if any.
func (r *AccessEntryReconciler) target(region string, cac *v1.ClusterAccessConfig) Target {
	t := Target{Region: region}
	if cac != nil {
		t.RoleARN, t.ExternalID = cac.Spec.RoleARN, cac.Spec.ExternalID
	}
	return t
}

// targetOf is the target of a recorded identity, through the ClusterAccessConfig
// that governs its cluster now.
func (r *AccessEntryReconciler) targetOf(ctx context.Context, id v1.EntryIdentity) (Target, error) {
	cac, err := r.clusterConfig(ctx, id.ClusterName, id.Region)
	return r.target(id.Region, cac), err
}

// identity is the spec's identity, with the region resolved (the spec's, its
// ClusterAccessConfig's, or the operator's default); false without a region.
func (r *AccessEntryReconciler) identity(ae *v1.AccessEntry, cac *v1.ClusterAccessConfig) (v1.EntryIdentity, bool) {
	region := ae.Spec.Region
	if region == "" && cac != nil {
		region = cac.Spec.Region
	}
	if region == "" {
		region = r.DefaultRegion
	}
	typ := ae.Spec.Type
	if typ == "" {
		typ = v1.TypeStandard
	}
	return v1.EntryIdentity{ClusterName: ae.Spec.ClusterName, Region: region, PrincipalARN: ae.Spec.PrincipalARN, Type: typ}, region != ""
}

// retire removes the entry of a previous identity (unless deletionPolicy is Retain)
// and forgets it. Until status no longer names it, a crash resumes here, and a
// second delete of an entry already gone is success. done is false when the
// reconcile has to stop with res and err.
func (r *AccessEntryReconciler) retire(ctx context.Context, ae *v1.AccessEntry, old v1.EntryIdentity) (res ctrl.Result, err error, done bool) {
	if ae.Spec.DeletionPolicy != v1.DeletionPolicyRetain {
		r.progressing(ae, v1.ReasonProgressing, fmt.Sprintf("deleting the EKS access entry of %s in cluster %s before creating the new one", old.PrincipalARN, old.ClusterName))
		if _, err := r.deleteIfMine(ctx, ae, old); errors.Is(err, errNotVisibleYet) {
			res, err := r.waitForEKS(ae, "the EKS access entry of the previous identity is not visible yet, so it cannot be deleted yet")
			return res, err, false
		} else if err != nil {
			res, err := r.eksFailure(ae, old, err)
			return res, err, false
		}
	}
	r.event(ae, corev1.EventTypeNormal, "Recreating", "the identity changed: %s the EKS access entry of %s in cluster %s",
		map[bool]string{true: "retained", false: "deleted"}[ae.Spec.DeletionPolicy == v1.DeletionPolicyRetain], old.PrincipalARN, old.ClusterName)
	if err := r.resetStatus(ctx, ae); err != nil {
		return ctrl.Result{}, err, false
	}
	return ctrl.Result{}, nil, true
}

// resetStatus forgets everything status says of an entry that is gone, at once:
// the patches of the create that follows would otherwise read the old values back.
func (r *AccessEntryReconciler) resetStatus(ctx context.Context, ae *v1.AccessEntry) error {
	return r.recordIntent(ctx, ae, func(st *v1.AccessEntryStatus) {
		*st = v1.AccessEntryStatus{Conditions: st.Conditions, ObservedGeneration: st.ObservedGeneration}
	})
}

// checkPrincipal makes sure the entry is bound to the IAM principal that holds its
// ARN now. EKS binds an entry to the principal's unique ID: after the role or user
// is deleted and created again under the same ARN, the entry grants nothing. That
// shows as an ID other than the one recorded, or a principal created after the
// entry. recreate says the entry was deleted and status reset, to create it again;
// ok is false when the reconcile has to stop with res and err.
func (r *AccessEntryReconciler) checkPrincipal(ctx context.Context, ae *v1.AccessEntry, id v1.EntryIdentity, t Target, obs *Observed) (recreate bool, res ctrl.Result, err error, ok bool) {
	if !r.principalCheckDue(ae) {
		return false, ctrl.Result{}, nil, true
	}
	pid, created, err := r.Principals.PrincipalID(ctx, t, id.PrincipalARN)
	if errors.Is(err, errIAMBusy) {
		return false, ctrl.Result{}, nil, true // still due: a later reconcile asks
	}
	r.nextPrincipalCheck.Store(ae.UID, time.Now().Add(r.PrincipalCheckInterval))
	switch {
	case errors.Is(err, errNoSuchPrincipal) && (ae.Status.PrincipalID != "" || principalDeleted(ae)):
		// Known to IAM before (or already reported): deleted since. The entry
		// stays, so that nothing is lost should IAM answer wrongly.
		r.stalled(ae, v1.ReasonPrincipalDeleted, fmt.Sprintf(
			"IAM has no %s any more, so its EKS access entry grants nothing; the entry is kept. "+
				"Create the role or user again (the operator then recreates the entry for it), or delete this AccessEntry",
			id.PrincipalARN))
		return false, ctrl.Result{RequeueAfter: r.PrincipalCheckInterval}, nil, false
	case err != nil:
		// Not known to IAM yet, another account, no permission, IAM unreachable:
		// nothing to act on; EKS stays the authority on the principal.
		ctrl.LoggerFrom(ctx).V(1).Info("principal not checked with IAM", "principal", id.PrincipalARN, "reason", err.Error())
		return false, ctrl.Result{}, nil, true
	case pid == ae.Status.PrincipalID || (ae.Status.PrincipalID == "" && (obs.CreatedAt.IsZero() || !created.After(obs.CreatedAt))):
		ae.Status.PrincipalID = pid
		return false, ctrl.Result{}, nil, true
	}

	was := ae.Status.PrincipalID
	if was == "" {
		was = "one older than the entry"
	}
	r.event(ae, corev1.EventTypeWarning, "PrincipalRecreated",
		"%s was deleted and created again in IAM (ID %s, was %s): EKS bound the access entry to the old principal, so it is recreated",
		id.PrincipalARN, pid, was)
	r.progressing(ae, v1.ReasonProgressing, "recreating the EKS access entry for the principal created again in IAM")
	if _, err := r.deleteIfMine(ctx, ae, id); err != nil {
		res, err := r.eksFailure(ae, id, err)
		return false, res, err, false
	}
	if err := r.resetStatus(ctx, ae); err != nil {
		return false, ctrl.Result{}, err, false
	}
	return true, ctrl.Result{}, nil, true
}

// principalCheckDue says whether the entry's principal is due an IAM lookup. An
// entry never checked is due at once; one checked before (status.principalID)
// and seen for the first time since the operator started is due at a random
// moment within the interval, so that a restart does not send every lookup at
// once; one reported PrincipalDeleted is due on every reconcile.
func (r *AccessEntryReconciler) principalCheckDue(ae *v1.AccessEntry) bool {
	if r.Principals == nil || r.PrincipalCheckInterval <= 0 {
		return false
	}
	if principalDeleted(ae) {
		return true
	}
	first := time.Now()
	if ae.Status.PrincipalID != "" {
		first = first.Add(rand.N(r.PrincipalCheckInterval))
	}
	next, _ := r.nextPrincipalCheck.LoadOrStore(ae.UID, first)
	return !time.Now().Before(next.(time.Time))
}

// principalDeleted says whether the object reports its principal deleted.
func principalDeleted(ae *v1.AccessEntry) bool {
	c := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReady)
	return c != nil && c.Reason == v1.ReasonPrincipalDeleted
}

// errNotVisibleYet: an entry the operator may have just created reads as absent.
var errNotVisibleYet = errors.New("the EKS access entry may exist but is not visible yet")

// deleteIfMine deletes the entry of an identity if it carries this object's
// ownership tags, and reports whether it did. An entry that is absent, or in a
// cluster that is gone, needs no deleting; one that is not ours is never deleted.
// An entry recorded in status moments ago that reads as absent may still appear:
// errNotVisibleYet, until --consistency-window has passed.
func (r *AccessEntryReconciler) deleteIfMine(ctx context.Context, ae *v1.AccessEntry, id v1.EntryIdentity) (bool, error) {
	mayAppear := ae.Status.Identity != nil && *ae.Status.Identity == id && ae.Status.IdentityRecordedAt != nil &&
		time.Since(ae.Status.IdentityRecordedAt.Time) < r.ConsistencyWindow &&
		!meta.IsStatusConditionTrue(ae.Status.Conditions, v1.ConditionReady)
	t, err := r.targetOf(ctx, id)
	if err != nil {
		return false, err
	}
	cl := r.EKS.For(t)
	in := &eks.DescribeAccessEntryInput{ClusterName: aws.String(id.ClusterName), PrincipalArn: aws.String(id.PrincipalARN)}
	out, err := cl.DescribeAccessEntry(ctx, in)
	switch {
	case err != nil && classify(err) == errNotFound && mayAppear:
		return false, errNotVisibleYet
	case err != nil && (classify(err) == errNotFound || classify(err) == errClusterNotFound || classify(err) == errModeNotSupported):
		// Absent, or the cluster is gone, or it is in CONFIG_MAP mode and so has
		// never held an entry (the mode only moves forward).
		return false, nil
	case err != nil:
		return false, err
	case !r.ownedByMe(ae, observedEntry(out.AccessEntry)):
		return false, nil
	}
	_, err = cl.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: in.ClusterName, PrincipalArn: in.PrincipalArn})
	switch {
	case err == nil:
		return true, nil
	case classify(err) == errNotFound || classify(err) == errClusterNotFound:
		return false, nil
	}
	return false, err
}

// ensureEntry returns the observed entry of the identity, creating it when absent
// and settling ownership when it exists. wrote says whether it created or adopted.
// ok is false when the reconcile has to stop with res and err.
func (r *AccessEntryReconciler) ensureEntry(ctx context.Context, cl EKSAPI, ae *v1.AccessEntry, id v1.EntryIdentity) (obs *Observed, wrote bool, res ctrl.Result, err error, ok bool) {
	// An entry recorded in status is read first; a new object is created right away,
	// which saves a read on the common path.
	if ae.Status.Identity != nil {
		obs, err := r.observe(ctx, cl, id)
		if err != nil {
			res, err := r.eksFailure(ae, id, err)
			return nil, false, res, err, false
		}
		if obs != nil {
			if r.ownedByMe(ae, obs) && obs.Type == string(id.Type) {
				return obs, false, ctrl.Result{}, nil, true
			}
			// Recorded before a create whose answer never came (a crash): the entry
			// is someone else's, or ours of the type being moved away from. Settle
			// it as any existing entry.
			return r.claimExisting(ctx, cl, ae, id, obs)
		}
		// Absent right after our create is eventual consistency; absent after a
		// read-back once showed it (Ready) is an out-of-band delete.
		confirmed := meta.IsStatusConditionTrue(ae.Status.Conditions, v1.ConditionReady)
		if c := ae.Status.CreatedAt; !confirmed && c != nil && time.Since(c.Time) < r.ConsistencyWindow {
			res, err := r.waitForEKS(ae, "the EKS access entry was created but is not visible yet")
			return nil, false, res, err, false
		}
		if ae.Status.CreatedAt != nil {
			driftCorrections.Inc()
			r.event(ae, corev1.EventTypeWarning, "DriftCorrected", "the EKS access entry was deleted out of band; creating it again")
		}
	}

	if ae.Status.Identity == nil && ae.Annotations[v1.AdoptAnnotation] == "true" {
		// An object made to adopt (kubectl eksaccess import) most likely has an entry
		// already: read it instead of a create that EKS would refuse.
		if obs, err := r.observe(ctx, cl, id); err != nil {
			res, err := r.eksFailure(ae, id, err)
			return nil, false, res, err, false
		} else if obs != nil {
			return r.claimExisting(ctx, cl, ae, id, obs)
		}
	}

	// Record the identity before the create: should the operator die before the
	// answer, the next one finds the entry through status, and deletes it if the
	// object moved on or went away, instead of leaving an orphan.
	desired := DesiredFor(ae, id, r.InstanceID)
	if err := r.recordIntent(ctx, ae, func(st *v1.AccessEntryStatus) {
		if st.Identity == nil || *st.Identity != id {
			now := metav1.Now()
			st.Identity, st.IdentityRecordedAt = &id, &now
		}
		st.ManagedTags = union(st.ManagedTags, desired.SpecTagKeys)
	}); err != nil {
		return nil, false, ctrl.Result{}, err, false
	}

	r.progressing(ae, v1.ReasonProgressing, "creating the EKS access entry")
	in := &eks.CreateAccessEntryInput{
		ClusterName:  aws.String(id.ClusterName),
		PrincipalArn: aws.String(id.PrincipalARN),
		Type:         aws.String(string(id.Type)),
		Tags:         desired.Tags,
	}
	if id.Type == v1.TypeStandard {
		in.KubernetesGroups = desired.Groups
		if desired.Username != "" {
			in.Username = aws.String(desired.Username)
		}
	}
	out, err := cl.CreateAccessEntry(ctx, in)
	if err == nil {
		obs := observedEntry(out.AccessEntry)
		if id.Type == v1.TypeStandard {
			obs.Policies = map[string]ObservedPolicy{}
		}
		ae.Status.Identity = &id
		ae.Status.CreatedAt = timeOf(out.AccessEntry.CreatedAt)
		r.event(ae, corev1.EventTypeNormal, "Created", "created the EKS access entry of %s in cluster %s", id.PrincipalARN, id.ClusterName)
		return obs, true, ctrl.Result{}, nil, true
	}
	switch classify(err) {
	case errInUse:
		return r.claimExisting(ctx, cl, ae, id, nil)
	case errInvalid, errModeNotSupported, errClusterNotFound, errAccessDenied, errInvalidPrincipal, errLimitExceeded:
		// EKS refused outright: nothing was created, nothing is to be looked for.
		if err := r.forgetIdentity(ctx, ae); err != nil {
			return nil, false, ctrl.Result{}, err, false
		}
	}
	res, err = r.eksFailure(ae, id, err)
	return nil, false, res, err, false
}

// claimExisting settles ownership of an entry that exists for the principal (seen,
// when known, as seen). The entry as observed, with the ownership tags an adoption
// added, goes to the plan; the read-back before Ready confirms it.
func (r *AccessEntryReconciler) claimExisting(ctx context.Context, cl EKSAPI, ae *v1.AccessEntry, id v1.EntryIdentity, seen *Observed) (obs *Observed, wrote bool, res ctrl.Result, err error, ok bool) {
	obs, res, err, ok = r.claim(ctx, cl, ae, id, seen)
	if !ok {
		return nil, false, res, err, false
	}
	return obs, true, ctrl.Result{}, nil, true
}

// claim decides what to do about an entry that already exists for the principal:
// ours from an earlier attempt, unowned and adoptable, or someone else's. It never
// writes to an entry that is not ours, except to adopt one the object opted in for.
func (r *AccessEntryReconciler) claim(ctx context.Context, cl EKSAPI, ae *v1.AccessEntry, id v1.EntryIdentity, obs *Observed) (*Observed, ctrl.Result, error, bool) {
	if obs == nil {
		var err error
		if obs, err = r.observe(ctx, cl, id); err != nil {
			res, err := r.eksFailure(ae, id, err)
			return nil, res, err, false
		}
	}
	if obs == nil {
		// Deleted a moment ago (by us, on an identity change): EKS still holds the name.
		res, err := r.waitForEKS(ae, "an EKS access entry for this principal is still being deleted")
		return nil, res, err, false
	}
	owner, owned := OwnerOf(obs.Tags)
	switch {
	case r.ownedByMe(ae, obs) && obs.Type != string(id.Type):
		// Ours, but of the type we are moving away from: finish deleting it.
		_, err := cl.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(id.ClusterName), PrincipalArn: aws.String(id.PrincipalARN)})
		if err != nil && classify(err) != errNotFound {
			res, err := r.eksFailure(ae, id, err)
			return nil, res, err, false
		}
		res, err := r.waitForEKS(ae, "the EKS access entry of the previous type is still being deleted")
		return nil, res, err, false
	case r.ownedByMe(ae, obs):
		// Created by an attempt that crashed before it recorded status.
	case owned:
		if err := r.forgetIdentity(ctx, ae); err != nil { // not ours: never delete it on our behalf
			return nil, ctrl.Result{}, err, false
		}
		r.stalled(ae, v1.ReasonConflict, fmt.Sprintf("the EKS access entry of %s in cluster %s belongs to AccessEntry %s; only one object may manage a principal", id.PrincipalARN, id.ClusterName, owner))
		return nil, ctrl.Result{RequeueAfter: r.RecheckInterval}, nil, false
	case ae.Annotations[v1.AdoptAnnotation] != "true":
		if err := r.forgetIdentity(ctx, ae); err != nil { // not ours: never delete it on our behalf
			return nil, ctrl.Result{}, err, false
		}
		r.stalled(ae, v1.ReasonAlreadyExists, fmt.Sprintf("an EKS access entry for %s already exists in cluster %s and no operator manages it; annotate this object with %s: \"true\" to take it over", id.PrincipalARN, id.ClusterName, v1.AdoptAnnotation))
		return nil, ctrl.Result{RequeueAfter: r.RecheckInterval}, nil, false
	case obs.Type != string(id.Type):
		if err := r.forgetIdentity(ctx, ae); err != nil { // not ours: never delete it on our behalf
			return nil, ctrl.Result{}, err, false
		}
		r.stalled(ae, v1.ReasonAlreadyExists, fmt.Sprintf("the existing EKS access entry for %s is of type %s, not %s, and EKS cannot change a type; set spec.type to %s to adopt it", id.PrincipalARN, obs.Type, id.Type, obs.Type))
		return nil, ctrl.Result{RequeueAfter: r.RecheckInterval}, nil, false
	default:
		// Adopt: the ownership tags make it ours; the plan then brings it to the spec.
		ours := ownershipTags(r.InstanceID, ae.Namespace, ae.Name)
		if _, err := cl.TagResource(ctx, &eks.TagResourceInput{ResourceArn: aws.String(obs.ARN), Tags: ours}); err != nil {
			res, err := r.eksFailure(ae, id, err)
			return nil, res, err, false
		}
		obs.Tags = maps.Clone(obs.Tags)
		if obs.Tags == nil {
			obs.Tags = map[string]string{}
		}
		maps.Copy(obs.Tags, ours)
		r.event(ae, corev1.EventTypeNormal, "Adopted", "took over the existing EKS access entry of %s in cluster %s", id.PrincipalARN, id.ClusterName)
	}
	ae.Status.Identity = &id
	ae.Status.CreatedAt = metaTime(obs.CreatedAt)
	return obs, ctrl.Result{}, nil, true
}

// recordIntent patches status at once with what the operator is about to write to
// EKS, when that changes status: the deferred patch at the end of the reconcile
// would come too late after a crash.
func (r *AccessEntryReconciler) recordIntent(ctx context.Context, ae *v1.AccessEntry, mutate func(*v1.AccessEntryStatus)) error {
	before := ae.DeepCopy()
	mutate(&ae.Status)
	if equality.Semantic.DeepEqual(before.Status, ae.Status) {
		return nil
	}
	return r.Status().Patch(ctx, ae, client.MergeFrom(before))
}

// forgetIdentity clears the recorded identity at once: the deferred status patch
// is computed against the object as the reconcile began, and would not undo what
// recordIntent already wrote.
func (r *AccessEntryReconciler) forgetIdentity(ctx context.Context, ae *v1.AccessEntry) error {
	return r.recordIntent(ctx, ae, func(st *v1.AccessEntryStatus) { st.Identity, st.IdentityRecordedAt = nil, nil })
}

// union is the sorted union of two sets of keys.
func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// ownedByMe reports whether the entry carries this object's ownership tags.
func (r *AccessEntryReconciler) ownedByMe(ae *v1.AccessEntry, obs *Observed) bool {
	owner, _ := OwnerOf(obs.Tags)
	return owner == Owner{Instance: r.InstanceID, Namespace: ae.Namespace, Name: ae.Name}
}

// observe reads the entry and, for STANDARD entries only, its policies. It returns
// nil when EKS has no such entry.
func (r *AccessEntryReconciler) observe(ctx context.Context, cl EKSAPI, id v1.EntryIdentity) (*Observed, error) {
	out, err := cl.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{
		ClusterName: aws.String(id.ClusterName), PrincipalArn: aws.String(id.PrincipalARN),
	})
	if err != nil {
		if classify(err) == errNotFound {
			return nil, nil
		}
		return nil, err
	}
	obs := observedEntry(out.AccessEntry)
	// Listing the policies of any other type is an error in EKS.
	if obs.Type != string(v1.TypeStandard) {
		return obs, nil
	}
	obs.Policies = map[string]ObservedPolicy{}
	pages := eks.NewListAssociatedAccessPoliciesPaginator(cl, &eks.ListAssociatedAccessPoliciesInput{
		ClusterName: aws.String(id.ClusterName), PrincipalArn: aws.String(id.PrincipalARN), MaxResults: aws.Int32(100),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			if classify(err) == errNotFound {
				return nil, nil
			}
			return nil, err
		}
		for _, p := range page.AssociatedAccessPolicies {
			op := ObservedPolicy{AssociatedAt: aws.ToTime(p.AssociatedAt), ModifiedAt: aws.ToTime(p.ModifiedAt)}
			if p.AccessScope != nil {
				op.Scope = Scope{Type: string(p.AccessScope.Type), Namespaces: sorted(p.AccessScope.Namespaces)}
			}
			obs.Policies[aws.ToString(p.PolicyArn)] = op
		}
	}
	return obs, nil
}

// apply makes the plan's writes: username and groups together, tags, then policies.
func (r *AccessEntryReconciler) apply(ctx context.Context, cl EKSAPI, id v1.EntryIdentity, entryARN string, p Plan) error {
	cluster, principal := aws.String(id.ClusterName), aws.String(id.PrincipalARN)
	if p.Update != nil {
		if _, err := cl.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{
			ClusterName: cluster, PrincipalArn: principal, Username: p.Update.Username, KubernetesGroups: p.Update.Groups,
		}); err != nil {
			return errorf(err, "updating username and groups")
		}
	}
	if len(p.SetTags) > 0 {
		if _, err := cl.TagResource(ctx, &eks.TagResourceInput{ResourceArn: aws.String(entryARN), Tags: p.SetTags}); err != nil {
			return errorf(err, "tagging the entry")
		}
	}
	if len(p.RemoveTags) > 0 {
		if _, err := cl.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: aws.String(entryARN), TagKeys: p.RemoveTags}); err != nil {
			return errorf(err, "untagging the entry")
		}
	}
	for _, arn := range slices.Sorted(maps.Keys(p.Associate)) {
		scope := p.Associate[arn]
		if _, err := cl.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{
			ClusterName: cluster, PrincipalArn: principal, PolicyArn: aws.String(arn),
			AccessScope: &types.AccessScope{Type: types.AccessScopeType(scope.Type), Namespaces: scope.Namespaces},
		}); err != nil {
			return errorf(err, "associating %s", arn)
		}
	}
	for _, arn := range p.Disassociate {
		if _, err := cl.DisassociateAccessPolicy(ctx, &eks.DisassociateAccessPolicyInput{
			ClusterName: cluster, PrincipalArn: principal, PolicyArn: aws.String(arn),
		}); err != nil && classify(err) != errNotFound {
			return errorf(err, "disassociating %s", arn)
		}
	}
	return nil
}

// reconcileDelete deletes the EKS entry (unless Retain) and then lets the object go.
// An entry this object created but never recorded (a crash right after the create)
// is found by its ownership tags.
func (r *AccessEntryReconciler) reconcileDelete(ctx context.Context, ae *v1.AccessEntry) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(ae, v1.Finalizer) {
		return ctrl.Result{}, nil
	}
	var deleted *v1.EntryIdentity
	if ae.Spec.DeletionPolicy != v1.DeletionPolicyRetain {
		var err error
		if deleted, err = r.deleteOwnedEntry(ctx, ae); errors.Is(err, errNotVisibleYet) {
			return r.waitForEKS(ae, "the EKS access entry was just created and is not visible yet, so it cannot be deleted yet")
		} else if err != nil {
			return r.eksFailure(ae, derefIdentity(ae.Status.Identity), err)
		}
	}
	before := ae.DeepCopy()
	controllerutil.RemoveFinalizer(ae, v1.Finalizer)
	if err := r.Patch(ctx, ae, client.MergeFrom(before)); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	r.nextPrincipalCheck.Delete(ae.UID)
	switch {
	case deleted != nil:
		r.event(ae, corev1.EventTypeNormal, "Deleted", "deleted the EKS access entry of %s in cluster %s", deleted.PrincipalARN, deleted.ClusterName)
	case ae.Spec.DeletionPolicy == v1.DeletionPolicyRetain && ae.Status.Identity != nil:
		r.event(ae, corev1.EventTypeNormal, "Retained", "left the EKS access entry of %s in cluster %s in place (deletionPolicy Retain)", ae.Status.Identity.PrincipalARN, ae.Status.Identity.ClusterName)
	}
	return ctrl.Result{}, nil
}

// deleteOwnedEntry deletes the entry recorded in status or, when none is, the
// spec's, if it carries this object's ownership tags; it returns the identity it
// deleted (nil when there was nothing of ours).
func (r *AccessEntryReconciler) deleteOwnedEntry(ctx context.Context, ae *v1.AccessEntry) (*v1.EntryIdentity, error) {
	id := ae.Status.Identity
	if id == nil {
		cac, err := r.clusterConfig(ctx, ae.Spec.ClusterName, ae.Spec.Region)
		if err != nil {
			return nil, err
		}
		spec, ok := r.identity(ae, cac)
		if !ok {
			return nil, nil
		}
		id = &spec
	}
	r.progressing(ae, v1.ReasonDeleting, "deleting the EKS access entry")
	deleted, err := r.deleteIfMine(ctx, ae, *id)
	if err != nil || !deleted {
		return nil, err
	}
	return id, nil
}

// eksFailure turns an EKS error into conditions and a result, by its class.
func (r *AccessEntryReconciler) eksFailure(ae *v1.AccessEntry, id v1.EntryIdentity, err error) (ctrl.Result, error) {
	switch classify(err) {
	case errInvalid:
		r.stalled(ae, v1.ReasonInvalidSpec, "EKS refused the entry: "+eksMessage(err)+"; fix the spec")
		return ctrl.Result{}, reconcile.TerminalError(err)
	case errModeNotSupported:
		r.stalled(ae, v1.ReasonAuthenticationModeNotSupported, fmt.Sprintf(
			"cluster %s only authenticates through the aws-auth ConfigMap; switch its authentication mode to API_AND_CONFIG_MAP or API "+
				"(aws eks update-cluster-config --name %s --access-config authenticationMode=API_AND_CONFIG_MAP) and the entry will be created",
			id.ClusterName, id.ClusterName))
		return ctrl.Result{RequeueAfter: r.RecheckInterval}, nil
	case errClusterNotFound:
		r.stalled(ae, v1.ReasonClusterNotFound, fmt.Sprintf("EKS has no cluster %s in region %s for the operator's account; check spec.clusterName and spec.region", id.ClusterName, id.Region))
		return ctrl.Result{RequeueAfter: r.RecheckInterval}, nil
	case errLimitExceeded:
		r.stalled(ae, v1.ReasonLimitExceeded, fmt.Sprintf(
			"cluster %s has reached its quota of access entries (%s); delete entries it no longer needs "+
				"(a ClusterAccessConfig with unmanagedEntries.policy Delete removes the ones no AccessEntry declares) or ask AWS for a higher quota, "+
				"and the entry will be created", id.ClusterName, eksMessage(err)))
		return ctrl.Result{RequeueAfter: r.RecheckInterval}, nil
	case errAccessDenied:
		r.stalled(ae, v1.ReasonAccessDenied, fmt.Sprintf("the operator's IAM identity may not call %s: %s; grant it in the operator's IAM policy", operationOf(err), eksMessage(err)))
		return ctrl.Result{RequeueAfter: r.RecheckInterval}, nil
	case errInvalidPrincipal:
		return r.waitOrFail(ae, id, err, "EKS does not know "+id.PrincipalARN+" yet: a new IAM role or user takes a while to propagate and is then picked up by itself; "+
			"if it does not exist, create it in IAM or correct spec.principalARN ("+eksMessage(err)+")")
	case errNotFound:
		return r.waitForEKS(ae, "EKS does not show the access entry yet: "+eksMessage(err))
	case errThrottled:
		// Expected under load: back off without an error log, and never stall.
		r.progressing(ae, v1.ReasonThrottled, "EKS is throttling the operator; retrying with backoff")
		return ctrl.Result{RequeueAfter: wait.Jitter(r.backoff(ae), 0.5)}, nil
	case errInUse:
		return r.waitForEKS(ae, "EKS reports the access entry in use: "+eksMessage(err))
	}
	r.progressing(ae, v1.ReasonEKSError, "EKS call failed, retrying: "+eksMessage(err))
	return ctrl.Result{}, err
}

// waitOrFail waits for EKS when err is nil or says the entry is not visible yet,
// and classifies any other error.
func (r *AccessEntryReconciler) waitOrFail(ae *v1.AccessEntry, id v1.EntryIdentity, err error, msg string) (ctrl.Result, error) {
	if err != nil && classify(err) != errInvalidPrincipal && classify(err) != errNotFound {
		return r.eksFailure(ae, id, err)
	}
	reason := v1.ReasonWaitingForEKS
	if err != nil && classify(err) == errInvalidPrincipal {
		reason = v1.ReasonPrincipalNotFound
	}
	return r.wait(ae, reason, msg)
}

// waitForEKS reports that the operator waits for EKS to show a change.
func (r *AccessEntryReconciler) waitForEKS(ae *v1.AccessEntry, msg string) (ctrl.Result, error) {
	return r.wait(ae, v1.ReasonWaitingForEKS, msg)
}

// wait keeps Reconciling=True and checks again with a backoff that grows with the
// time already waited (1s up to 30s). After StallAfter it also reports Stalled,
// and keeps checking.
func (r *AccessEntryReconciler) wait(ae *v1.AccessEntry, reason, msg string) (ctrl.Result, error) {
	if s := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionStalled); s != nil && s.Reason == reason && s.ObservedGeneration == ae.Generation {
		// Already stalled on this: stay so (no flapping back to Reconciling), keep checking.
		return ctrl.Result{RequeueAfter: maxBackoff}, nil
	}
	r.progressing(ae, reason, msg)
	if r.StallAfter > 0 && r.reconcilingFor(ae) > r.StallAfter {
		r.stalled(ae, reason, fmt.Sprintf("%s (no progress for more than %s)", msg, r.StallAfter))
	}
	return ctrl.Result{RequeueAfter: r.backoff(ae)}, nil
}

// reconcilingFor is how long the object has been Reconciling without a break.
func (r *AccessEntryReconciler) reconcilingFor(ae *v1.AccessEntry) time.Duration {
	if c := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReconciling); c != nil {
		return time.Since(c.LastTransitionTime.Time)
	}
	return 0
}

// maxBackoff bounds the wait between checks of something EKS has not shown yet.
const maxBackoff = 30 * time.Second

// backoff grows with the time already spent Reconciling: 1s at first, then a
// quarter of it, up to maxBackoff.
func (r *AccessEntryReconciler) backoff(ae *v1.AccessEntry) time.Duration {
	return min(max(time.Second, r.reconcilingFor(ae)/4), maxBackoff)
}

// ready sets Ready=True and clears Reconciling and Stalled.
func (r *AccessEntryReconciler) ready(ae *v1.AccessEntry, msg string) {
	meta.SetStatusCondition(&ae.Status.Conditions, metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionTrue,
		Reason: v1.ReasonSynced, Message: msg, ObservedGeneration: ae.Generation})
	meta.RemoveStatusCondition(&ae.Status.Conditions, v1.ConditionReconciling)
	meta.RemoveStatusCondition(&ae.Status.Conditions, v1.ConditionStalled)
	ae.Status.ObservedGeneration = ae.Generation
}

// progressing sets Ready=False and Reconciling=True with the same reason; it keeps
// the time Reconciling started, which wait measures from.
func (r *AccessEntryReconciler) progressing(ae *v1.AccessEntry, reason, msg string) {
	meta.SetStatusCondition(&ae.Status.Conditions, metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionFalse,
		Reason: reason, Message: msg, ObservedGeneration: ae.Generation})
	meta.SetStatusCondition(&ae.Status.Conditions, metav1.Condition{Type: v1.ConditionReconciling, Status: metav1.ConditionTrue,
		Reason: reason, Message: msg, ObservedGeneration: ae.Generation})
	meta.RemoveStatusCondition(&ae.Status.Conditions, v1.ConditionStalled)
}

// stalled sets Ready=False and Stalled=True: a person has to act. The generation
// counts as handled, so that kstatus (Flux) reports Failed rather than waiting.
func (r *AccessEntryReconciler) stalled(ae *v1.AccessEntry, reason, msg string) {
	ae.Status.ObservedGeneration = ae.Generation
	meta.SetStatusCondition(&ae.Status.Conditions, metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionFalse,
		Reason: reason, Message: msg, ObservedGeneration: ae.Generation})
	meta.SetStatusCondition(&ae.Status.Conditions, metav1.Condition{Type: v1.ConditionStalled, Status: metav1.ConditionTrue,
		Reason: reason, Message: msg, ObservedGeneration: ae.Generation})
	meta.RemoveStatusCondition(&ae.Status.Conditions, v1.ConditionReconciling)
}

func (r *AccessEntryReconciler) event(ae *v1.AccessEntry, eventType, reason, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(ae, nil, eventType, reason, "Reconcile", format, args...)
	}
}

// recordObserved writes what EKS holds into status.
func recordObserved(ae *v1.AccessEntry, obs *Observed) {
	ae.Status.AccessEntryARN = obs.ARN
	ae.Status.Username = obs.Username
	ae.Status.KubernetesGroups = sorted(obs.Groups)
	ae.Status.CreatedAt = metaTime(obs.CreatedAt)
	ae.Status.ModifiedAt = metaTime(obs.ModifiedAt)
	ae.Status.AccessPolicies = nil
	for _, arn := range slices.Sorted(maps.Keys(obs.Policies)) {
		p := obs.Policies[arn]
		ae.Status.AccessPolicies = append(ae.Status.AccessPolicies, v1.AssociatedAccessPolicy{
			PolicyARN:    arn,
			AccessScope:  v1.ObservedAccessScope{Type: v1.AccessScopeType(p.Scope.Type), Namespaces: p.Scope.Namespaces},
			AssociatedAt: metaTime(p.AssociatedAt),
			ModifiedAt:   metaTime(p.ModifiedAt),
		})
	}
}

func observedEntry(e *types.AccessEntry) *Observed {
	if e == nil {
		return &Observed{}
	}
	return &Observed{
		ARN:        aws.ToString(e.AccessEntryArn),
		Type:       aws.ToString(e.Type),
		Username:   aws.ToString(e.Username),
		Groups:     e.KubernetesGroups,
		Tags:       e.Tags,
		CreatedAt:  aws.ToTime(e.CreatedAt),
		ModifiedAt: aws.ToTime(e.ModifiedAt),
	}
}

func metaTime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &mt
}

func timeOf(t *time.Time) *metav1.Time { return metaTime(aws.ToTime(t)) }

func derefIdentity(id *v1.EntryIdentity) v1.EntryIdentity {
	if id == nil {
		return v1.EntryIdentity{}
	}
	return *id
}
