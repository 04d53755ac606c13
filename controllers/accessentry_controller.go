package controllers

import (
	"context"
	"errors"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
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
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// AccessEntryReconciler makes EKS hold the access entry each AccessEntry declares.
// The steps of a pass are in the accessentry_*.go files, one concern each; the
// decisions they take are the pure functions of internal/plan.
type AccessEntryReconciler struct {
	Deps
	EntryOptions
	// Principals reads principals' unique IDs from IAM; nil turns the check off.
	Principals Principals
	// PermissionSets finds the roles of Identity Center's permission sets; nil:
	// AccessEntries naming one wait, unresolved.
	PermissionSets PermissionSets
	// Suspects are the objects a sweep found changed out of band.
	Suspects *Suspects
	// Sweeper is told the clusters the objects' entries live in.
	Sweeper *Sweeper
	// Events says where EKS's events arrive (nil: nowhere).
	Events EventsFlow

	// nextPrincipalCheck holds, by object UID, when its principal is due a lookup.
	nextPrincipalCheck sync.Map
	// judgedUnder holds, by object UID, the ClusterAccessConfig (UID and
	// generation) a tenant object was last judged under.
	judgedUnder sync.Map
	// queue is the controller's workqueue, for the budget's scheduler.
	queue queueRef
}

// entryPass is one reconcile of one AccessEntry: the object, and what its steps
// learn and hand on to the next.
type entryPass struct {
	ae *v1.AccessEntry
	// base is the object as the API server holds its status, as far as this pass
	// knows: the object as it was read, with every intent patch since applied.
	// The status patch at the end is computed against it.
	base *v1.AccessEntry
	// readyBefore is the Ready condition the pass started with, for events.
	readyBefore string
	// suspicion is the object's mark in Suspects as the pass started (nil:
	// none); confirm clears that mark, not a later one.
	suspicion any
	// slot holds the EKS calls the pass reserved (schedule); its context carries it.
	slot *awsapi.Slot
	// verifying: the pass is the periodic full read of an entry Ready at its
	// generation (background work), set by schedule.
	verifying bool
	// recheck: the pass only checks again an object stalled at its generation
	// (background work), set by schedule and revoke.
	recheck bool
	// revoking: the pass takes away access a refusal from outside the object's
	// spec calls for (revocation work, ahead of all other), set by revoke.
	revoking bool
	// ruleChanged: the object's ClusterAccessConfig changed since the operator
	// last judged it, set by checkGuardrails; turnAsked: the revocation it calls
	// for waits for a turn in the budget, so the change stays news.
	ruleChanged, turnAsked bool

	// Set by resolveConfig.
	cac    *v1.ClusterAccessConfig
	id     v1.EntryIdentity
	target awsapi.Target
	eks    awsapi.EKS

	// verdict is the guardrails' verdict, set by checkGuardrails for an object
	// outside the trusted namespaces.
	verdict *guardrails.Verdict
	// view is what the guardrails read of a tenant object's world, read once a
	// pass (tenantViewOf).
	view *tenantView

	// principal is what an IAM lookup of the principal found, when the pass made
	// one (checkPrincipalBetween, checkPrincipal).
	principal *principalLookup

	// obs is the entry as EKS shows it, set by ensureEntry.
	obs *plan.Observed
	// written: this pass created, adopted or changed the entry, or took over one
	// status did not know; Ready then waits for a read-back.
	written bool
	// synced: Ready at this generation when the pass began; a write now is drift.
	synced bool
	// desired is the entry as the spec wants it, set by applyPlan.
	desired plan.Desired

	// removed and removal say what removeEntry did with the entry of a deleted object.
	removed v1.EntryIdentity
	removal plan.Removal

	// events are recorded by summarize, once the pass is over.
	events pendingEvents
}

// SetupWithManager registers the controller. Status patches and the operator's own
// finalizer patches do not start a reconcile: only spec, label and annotation
// changes and deletion do; drift is found by the periodic resync.
func (r *AccessEntryReconciler) SetupWithManager(mgr ctrl.Manager) error {
	deletion := predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return !e.ObjectNew.GetDeletionTimestamp().IsZero()
	}}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.AccessEntry{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{},
			predicate.LabelChangedPredicate{}, deletion))).
		// A ClusterAccessConfig change that alters what its AccessEntries do concerns
		// every AccessEntry of its cluster; its other status changes do not.
		Watches(&v1.ClusterAccessConfig{}, handler.EnqueueRequestsFromMapFunc(r.entriesOfCluster), builder.WithPredicates(configChanged)).
		// Rules may admit namespaces by label: a label change concerns every
		// AccessEntry of the namespace at once, not at its next verification, and,
		// when a selector admits the namespace (or did), its siblings' too. The
		// predicate passes creates and deletes.
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.entriesNearNamespace), builder.WithPredicates(predicate.LabelChangedPredicate{})).
		// A platform object's claim on a principal takes precedence: tenant objects
		// naming it are judged again when one appears or changes; a tenant's
		// object that goes may make room for those a limit refused.
		Watches(&v1.AccessEntry{}, handler.EnqueueRequestsFromMapFunc(r.affected), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// An entry recorded or given up under one spelling of a principal concerns
		// the objects naming it in another letter case: of two that created their
		// entries at once, one yields (spelledFirst).
		Watches(&v1.AccessEntry{}, handler.EnqueueRequestsFromMapFunc(r.otherSpellings), builder.WithPredicates(entryRecorded)).
		// A request's grant is judged by the request's status: the object is
		// judged again when that changes.
		Watches(&v1.AccessRequest{}, handler.EnqueueRequestsFromMapFunc(grantedEntry)).
		// The budget's scheduler and the sweeps put objects back in the queue.
		WatchesRawSource(r.queue.source()).
		WatchesRawSource(r.Suspects.queue.source()).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Named("accessentry").
		Complete(r)
}

// configChanged passes the ClusterAccessConfig changes that alter what its
// AccessEntries do: its spec, its deletion, the cluster leaving or entering
// UPDATING or changing mode, and the account and creation time it reads. Pruning
// reports, versions and conditions change nothing for them.
var configChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	o, n := e.ObjectOld.(*v1.ClusterAccessConfig), e.ObjectNew.(*v1.ClusterAccessConfig)
	return o.Generation != n.Generation || o.GetDeletionTimestamp().IsZero() != n.GetDeletionTimestamp().IsZero() ||
		o.Status.ClusterStatus != n.Status.ClusterStatus || o.Status.AuthenticationMode != n.Status.AuthenticationMode ||
		o.Status.AccountID != n.Status.AccountID || !o.Status.ClusterCreatedAt.Equal(n.Status.ClusterCreatedAt)
}}

// entryRecorded passes an AccessEntry's changes of the entry its status
// records (identity or ARN), and its deletion.
var entryRecorded = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld.(*v1.AccessEntry).Status, e.ObjectNew.(*v1.AccessEntry).Status
		return o.AccessEntryARN != n.AccessEntryARN || (o.Identity == nil) != (n.Identity == nil) || o.Identity != nil && *o.Identity != *n.Identity
	},
}

// otherSpellings lists the AccessEntries that name the object's principal, on
// its cluster, in another letter case.
func (r *AccessEntryReconciler) otherSpellings(ctx context.Context, o client.Object) []reconcile.Request {
	ae := o.(*v1.AccessEntry)
	list := &v1.AccessEntryList{}
	if err := r.List(ctx, list, client.MatchingFields{principalField: principalKey(ae.Spec.ClusterName, ae.Principal())}, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if w := &list.Items[i]; w.UID != ae.UID && w.Principal() != ae.Principal() {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(w)})
		}
	}
	return reqs
}

// entriesOfCluster lists the AccessEntries a ClusterAccessConfig governs.
func (r *AccessEntryReconciler) entriesOfCluster(ctx context.Context, o client.Object) []reconcile.Request {
	cac := o.(*v1.ClusterAccessConfig)
	return r.requestsFor(ctx, "cluster "+cac.Spec.ClusterName, client.MatchingFields{clusterNameField: cac.Spec.ClusterName})
}

// entriesInNamespace lists the AccessEntries of a namespace.
func (r *AccessEntryReconciler) entriesInNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	return r.requestsFor(ctx, "namespace "+o.GetName(), client.InNamespace(o.GetName()))
}

// requestsFor lists the AccessEntries the options select (what names them, for
// the log) and returns a request for each.
func (r *AccessEntryReconciler) requestsFor(ctx context.Context, what string, opts ...client.ListOption) []reconcile.Request {
	list := &v1.AccessEntryList{}
	if err := r.List(ctx, list, opts...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing AccessEntries", "of", what)
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, ae := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&ae)})
	}
	return reqs
}

// Reconcile makes EKS hold what the AccessEntry declares, or removes it when the
// object is deleted. Each step is documented where it is defined; summarize writes
// the conditions, events and status of the pass in one patch.
func (r *AccessEntryReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	ae := &v1.AccessEntry{}
	if err := r.Get(ctx, req.NamespacedName, ae); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	deleting := !ae.DeletionTimestamp.IsZero()
	if deleting && !controllerutil.ContainsFinalizer(ae, v1.Finalizer) {
		return ctrl.Result{}, nil
	}
	if !deleting {
		if err := r.addFinalizer(ctx, ae); err != nil {
			return ctrl.Result{}, err
		}
	}

	p := newEntryPass(ae)
	p.suspicion = r.Suspects.Seen(ae.UID)
	ctx = awsapi.WithSlot(ctx, p.slot)
	defer func() { result, err = r.summarize(ctx, p, deleting, err) }()

	if deleting {
		return ctrl.Result{}, run(ctx, p,
			r.scheduleRemoval,  // the calls of the deletion, from the account's budget
			r.removeEntry,      // delete the entry (unless Retain, or not ours)
			r.releaseFinalizer, // let the object go
		)
	}
	return ctrl.Result{}, run(ctx, p,
		r.checkExpiry,          // past spec.expiresAt: delete the entry it holds, and stop Expired
		r.resolveConfig,        // the ClusterAccessConfig, region and role; wait while the cluster updates
		r.resolvePermissionSet, // spec.identityCenter: the role IAM holds for the set now
		r.retireOldIdentity,    // an identity change: delete the old entry first
		r.checkGuardrails,      // trusted, or allowed by a rule; else revoke what it holds and stop
		r.checkPartition,       // the spec's ARNs are of the cluster's partition
		r.checkSpelling,        // no other object has the principal in another letter case
		r.yieldToSetHolder,     // no other object holds the role of its permission set
		r.schedule,             // nothing due: stop here; else reserve the calls, or wait for them
		r.ensureEntry,          // the entry exists and is ours: create, adopt or refuse
		r.checkPrincipal,       // the IAM principal is the one the entry was made for
		r.applyPlan,            // write what differs from the spec
		r.confirm,              // Ready when EKS's answers (or a read) show the spec
	)
}

func newEntryPass(ae *v1.AccessEntry) *entryPass {
	p := &entryPass{ae: ae, base: ae.DeepCopy(), slot: &awsapi.Slot{}}
	if c := readyCondition(ae); c != nil {
		p.readyBefore = string(c.Status) + "/" + c.Reason
		p.synced = c.Status == "True" && c.ObservedGeneration == ae.Generation
	}
	return p
}

// addFinalizer holds the object until its EKS entry is deleted (or retained).
func (r *AccessEntryReconciler) addFinalizer(ctx context.Context, ae *v1.AccessEntry) error {
	if controllerutil.ContainsFinalizer(ae, v1.Finalizer) {
		return nil
	}
	before := ae.DeepCopy()
	controllerutil.AddFinalizer(ae, v1.Finalizer)
	return r.Patch(ctx, ae, client.MergeFrom(before))
}

// summarize ends a pass: the outcome becomes conditions and the result, pending
// events and a Warning for a new failure are recorded, and status is patched once.
func (r *AccessEntryReconciler) summarize(ctx context.Context, p *entryPass, deleting bool, err error) (ctrl.Result, error) {
	p.slot.Release()
	err = r.overBudget(p, err)
	res, err := r.ending(p.ae, deleting).conclude(err)
	if at := p.ae.Spec.ExpiresAt; at != nil && !deleting && time.Now().Before(at.Time) {
		// Looked at again at its expiry whatever the pass's outcome, a terminal
		// one included; the workqueue keeps the earliest time asked for.
		r.queue.addAs(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(p.ae)}, expiryPriority(time.Until(at.Time), res), time.Until(at.Time))
	}
	r.recordEvents(p)
	if perr := r.patchStatus(ctx, p); perr != nil {
		err = errors.Join(err, perr)
	}
	if err != nil {
		return requeuedAs(ctrl.Result{}), err // retried by the workqueue's backoff, which ignores all but the priority
	}
	return requeuedAs(res), nil
}

// ending is how an AccessEntry's pass ends: looked at again when its
// verification or its principal's lookup is due, whichever comes first; waiting
// on EKS backs off and stalls after StallAfter.
func (r *AccessEntryReconciler) ending(ae *v1.AccessEntry, deleting bool) ending {
	backoff, readyAfter := r.backoff(ae), r.VerifyPeriod
	if left := r.principalCheckLeft(ae); r.Principals != nil && readyAfter > 0 {
		if left == 0 {
			left = jitter(iamBusyRetry, 1) // due, and put off by the IAM rate
		}
		readyAfter = min(readyAfter, left)
	}
	return ending{conds: accessEntryConditions(ae), ready: "the EKS access entry matches the spec", readyAfter: readyAfter,
		retryAfter: jitter(backoff, 0.5), waitAfter: backoff, stallAfter: r.StallAfter, waited: reconcilingFor(ae), stalledFor: stalledFor(ae), deleting: deleting}
}

// grantedEntry is the AccessEntry a request's status names as its grant.
func grantedEntry(_ context.Context, o client.Object) []reconcile.Request {
	ar := o.(*v1.AccessRequest)
	if ar.Status.Entry == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: ar.Namespace, Name: ar.Status.Entry}}}
}
