package controllers

import (
	"cmp"
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
	"github.com/eksaccess/eks-access-operator/internal/requests"
)

// +kubebuilder:rbac:groups=eksaccess.io,resources=accessrequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=eksaccess.io,resources=accessrequests/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=eksaccess.io,resources=accessapprovals,verbs=get;list;watch
// +kubebuilder:rbac:groups=eksaccess.io,resources=accessrequests/finalizers,verbs=update
// +kubebuilder:rbac:groups=eksaccess.io,resources=accessentries,verbs=create

// AccessRequestReconciler turns an approved AccessRequest into a time-bound
// AccessEntry of its namespace, which the AccessEntry controller makes in EKS and
// revokes at its expiry. It writes only the request's status and the grant: who
// asked and who approved come from admission (the request-identity policy).
type AccessRequestReconciler struct {
	Deps
	// DefaultRegion is the region of a grant that names none.
	DefaultRegion string
	// TrustedNamespaces are the platform's (--trusted-namespaces): a principal
	// one of their AccessEntries declares is reserved, and no request may have it.
	TrustedNamespaces []string
	// Now is the clock (time.Now by default).
	Now func() time.Time
}

// Reconcile decides the request (requests.Decide) under its cluster's
// time-bound rule, records the decision in status, and makes the grant once it
// is approved. A grant ends at its AccessEntry's expiry, at a denial by one of
// the rule's approvers, or when the request is deleted (Withdrawn: the
// AccessEntry is no grant from then on, and goes with the request, its owner);
// the other outcomes are final.
func (r *AccessRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ar := &v1.AccessRequest{}
	if err := r.Get(ctx, req.NamespacedName, ar); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := r.now()
	switch {
	case !ar.DeletionTimestamp.IsZero():
		return ctrl.Result{}, r.withdraw(ctx, ar, now)
	case ar.Status.Phase == v1.RequestGranted:
		return r.holdGrant(ctx, ar, now)
	case ar.Status.Phase != "" && ar.Status.Phase != v1.RequestPending:
		return ctrl.Result{}, nil
	}
	d, err := r.decide(ctx, ar, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.record(ctx, ar, d, now); err != nil {
		return ctrl.Result{}, err
	}
	if d.Phase == v1.RequestGranted {
		return r.keepGrant(ctx, ar, now)
	}
	if !d.Recheck.IsZero() {
		return ctrl.Result{RequeueAfter: d.Recheck.Sub(now) + time.Second}, nil
	}
	return ctrl.Result{}, nil
}

// withdraw records a request being deleted as Withdrawn while it is pending or
// granted. Whatever keeps it from going (a finalizer of the requester's, an
// orphaning delete), its AccessEntry is no grant from now on (grantOf), so
// the access is revoked at once.
func (r *AccessRequestReconciler) withdraw(ctx context.Context, ar *v1.AccessRequest, now time.Time) error {
	if ar.Status.Phase != "" && ar.Status.Phase != v1.RequestPending && ar.Status.Phase != v1.RequestGranted {
		return nil
	}
	return r.record(ctx, ar, requests.Decision{Phase: v1.RequestWithdrawn, Counted: ar.Status.Approvals,
		Message: "withdrawn: the request is being deleted, and anything it granted is revoked"}, now)
}

// holdGrant ends a granted request that one of its rule's approvers denied
// since (requests.DeniedWhileGranted), and otherwise keeps its grant.
func (r *AccessRequestReconciler) holdGrant(ctx context.Context, ar *v1.AccessRequest, now time.Time) (ctrl.Result, error) {
	h, err := r.holdTo(ctx, ar, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	// A grant its rule no longer allows is revoked by its AccessEntry's judge.
	if h.refused == nil {
		if d, ok := requests.DeniedWhileGranted(ar, h.verdict.TimeBound(), h.approvals); ok {
			return ctrl.Result{}, r.record(ctx, ar, d, now)
		}
	}
	return r.keepGrant(ctx, ar, now)
}

func (r *AccessRequestReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// decide holds the request and its approvals to the time-bound rule of its
// cluster that allows its grant (holdTo).
func (r *AccessRequestReconciler) decide(ctx context.Context, ar *v1.AccessRequest, now time.Time) (requests.Decision, error) {
	h, err := r.holdTo(ctx, ar, now)
	switch {
	case err != nil:
		return requests.Decision{}, err
	case h.refused != nil:
		return *h.refused, nil
	}
	return requests.Decide(ar, h.verdict.Rule, h.verdict.TimeBound(), h.approvals, now), nil
}

// hold is what a request is held to: the verdict of its cluster's time-bound
// rules on its grant and the approvals made for it, or why it is refused.
type hold struct {
	verdict   guardrails.Verdict
	approvals []requests.Approval
	refused   *requests.Decision
}

// holdTo finds the time-bound rule of the request's cluster that allows its
// grant, and the approvals made for it. No config, or no rule: refused, saying
// which.
func (r *AccessRequestReconciler) holdTo(ctx context.Context, ar *v1.AccessRequest, now time.Time) (hold, error) {
	grant := grantEntry(ar, now)
	region := cmp.Or(grant.Spec.Region, r.DefaultRegion)
	configs, err := configsOf(ctx, r.Client, clusterKey{name: grant.Spec.ClusterName, region: region, defaultRegion: r.DefaultRegion})
	if err != nil {
		return hold{}, err
	}
	if len(configs) != 1 {
		return hold{refused: &requests.Decision{Phase: v1.RequestRefused, Message: fmt.Sprintf(
			"%d ClusterAccessConfigs govern cluster %s in region %s: a request needs exactly one, with a time-bound rule (spec.guardrails.rules[].timeBound) that allows it",
			len(configs), grant.Spec.ClusterName, region)}}, nil
	}
	h := hold{}
	if h.verdict, err = r.judgeGrant(ctx, configs[0], ar); err != nil {
		return hold{}, err
	}
	if !h.verdict.Allowed() {
		return hold{refused: &requests.Decision{Phase: v1.RequestRefused, Message: h.verdict.Message()}}, nil
	}
	list := &v1.AccessApprovalList{}
	if err := r.List(ctx, list, client.InNamespace(ar.Namespace), client.MatchingFields{approvalRequestIndex: ar.Name}); err != nil {
		return hold{}, err
	}
	for _, a := range list.Items {
		h.approvals = append(h.approvals, requests.Approval{Name: a.Name, RequestUID: a.Spec.RequestUID, Decision: a.Spec.Decision,
			Approver: a.Spec.Approver, Groups: a.Spec.ApproverGroups, At: a.CreationTimestamp.Time})
	}
	return h, nil
}

// judgeGrant holds what a request's grant would hold, for as long as it asks, to
// the cluster's time-bound rules. A principal reserved for the platform (the
// config protects it, EKS made its entry, a trusted namespace declares it) is
// refused here, before anyone approves, as the grant's AccessEntry would be.
func (r *AccessRequestReconciler) judgeGrant(ctx context.Context, cac *v1.ClusterAccessConfig, ar *v1.AccessRequest) (guardrails.Verdict, error) {
	grant := grantEntry(ar, time.Time{})
	cfg, err := clusterGuardrails(ctx, r.Client, cac)
	if err != nil {
		return guardrails.Verdict{}, err
	}
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, client.ObjectKey{Name: grant.Namespace}, ns); err != nil && !apierrors.IsNotFound(err) {
		return guardrails.Verdict{}, err
	}
	req := guardrails.RequestFor(grant, ns.Labels)
	why, err := claims{reader: r.Client, trusted: r.TrustedNamespaces, defaultRegion: r.DefaultRegion}.reservedFor(ctx, grant, cac)
	if err != nil {
		return guardrails.Verdict{}, err
	}
	if why != "" {
		req.Reserved = reservedToTenants
		ctrl.LoggerFrom(ctx).Info("a request names a principal reserved for the platform", "principal", grant.Principal(), "why", why)
	}
	return guardrails.JudgeGrant(cfg, req, ar.Spec.Duration.Duration), nil
}

// record writes the decision into the request's status, with an event and one
// audit log line when the phase changes.
func (r *AccessRequestReconciler) record(ctx context.Context, ar *v1.AccessRequest, d requests.Decision, now time.Time) error {
	base := ar.DeepCopy()
	changed := ar.Status.Phase != d.Phase
	ar.Status.Phase, ar.Status.Approvals = d.Phase, d.Counted
	if d.Phase == v1.RequestGranted && ar.Status.GrantedAt == nil {
		ar.Status.Entry = ar.Name
		ar.Status.GrantedAt = &metav1.Time{Time: now.Truncate(time.Second)}
		ar.Status.ExpiresAt = &metav1.Time{Time: ar.Status.GrantedAt.Add(ar.Spec.Duration.Duration)}
	}
	status, reason := metav1.ConditionFalse, string(d.Phase)
	if d.Phase == v1.RequestGranted {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&ar.Status.Conditions, metav1.Condition{Type: v1.ConditionReady, Status: status, Reason: reason,
		Message: d.Message, ObservedGeneration: ar.Generation})
	// Optimistic: a decision made from a stale cache (a grant recorded again,
	// later) conflicts, and is made again from the request as it is.
	if err := r.Status().Patch(ctx, ar, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	if changed {
		r.audit(ctx, ar, d)
	}
	return nil
}

// audit says, as an event on the request and one structured log line, who asked
// for what on which cluster, why, what became of it and until when.
func (r *AccessRequestReconciler) audit(ctx context.Context, ar *v1.AccessRequest, d requests.Decision) {
	kind, reason := corev1.EventTypeNormal, "Request"+string(d.Phase)
	requestsDecided.WithLabelValues(string(d.Phase)).Inc()
	if d.BreakGlass {
		kind, reason = corev1.EventTypeWarning, "BreakGlass"
		breakGlassGrants.Inc()
	}
	r.Recorder.Eventf(ar, nil, kind, reason, reason, "%s", eventNote(d.Message))
	var until string
	if ar.Status.ExpiresAt != nil {
		until = ar.Status.ExpiresAt.UTC().Format(time.RFC3339)
	}
	ctrl.LoggerFrom(ctx).Info("access request "+string(d.Phase), "audit", true, "requester", ar.Spec.Requester,
		"cluster", ar.Spec.Grant.ClusterName, "principal", ar.Spec.Grant.PrincipalARN, "reason", ar.Spec.Reason,
		"approvers", approverNames(d.Counted), "breakGlass", d.BreakGlass, "until", until, "decision", d.Message)
}

func approverNames(ds []v1.Decision) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Approver
	}
	return out
}

// keepGrant makes the granted AccessEntry, or puts back a spec someone changed,
// until the grant expires; then the request is Expired (the AccessEntry's own
// expiry revokes the access). An AccessEntry of that name the request does not
// own is never taken over: the request is Refused instead.
func (r *AccessRequestReconciler) keepGrant(ctx context.Context, ar *v1.AccessRequest, now time.Time) (ctrl.Result, error) {
	if ar.Status.ExpiresAt != nil && !now.Before(ar.Status.ExpiresAt.Time) {
		return ctrl.Result{}, r.record(ctx, ar, requests.Decision{Phase: v1.RequestExpired, Counted: ar.Status.Approvals,
			Message: fmt.Sprintf("the grant expired at %s", ar.Status.ExpiresAt.UTC().Format(time.RFC3339))}, now)
	}
	want := grantEntry(ar, now)
	if err := controllerutil.SetControllerReference(ar, want, r.Scheme()); err != nil {
		return ctrl.Result{}, err
	}
	got := &v1.AccessEntry{}
	err := r.Get(ctx, client.ObjectKeyFromObject(want), got)
	switch {
	case apierrors.IsNotFound(err):
		if err := r.Create(ctx, want); err != nil {
			return ctrl.Result{}, err
		}
	case err != nil:
		return ctrl.Result{}, err
	case !metav1.IsControlledBy(got, ar):
		return ctrl.Result{}, r.record(ctx, ar, requests.Decision{Phase: v1.RequestRefused, Counted: ar.Status.Approvals, Message: fmt.Sprintf(
			"AccessEntry %s exists and is not this request's: delete it, or make the request again under another name", want.Name)}, now)
	case !equality.Semantic.DeepEqual(got.Spec, want.Spec) || got.Annotations[v1.AdoptAnnotation] != "":
		// A grant makes its own entry: it adopts none (no time-bound rule allows it).
		base := got.DeepCopy()
		got.Spec = want.Spec
		delete(got.Annotations, v1.AdoptAnnotation)
		if err := r.Patch(ctx, got, client.MergeFrom(base)); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{RequeueAfter: ar.Status.ExpiresAt.Sub(now) + time.Second}, nil
}

// grantEntry is the AccessEntry a request grants: its spec's grant, expiring
// when status says (or duration from now, before status has it), owned by the
// request so that it goes with it.
func grantEntry(ar *v1.AccessRequest, now time.Time) *v1.AccessEntry {
	ae := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: ar.Name, Namespace: ar.Namespace,
		Labels: map[string]string{v1.RequestLabel: ar.Name}}, Spec: *ar.Spec.Grant.DeepCopy()}
	expires := metav1.NewTime(now.Truncate(time.Second).Add(ar.Spec.Duration.Duration))
	if ar.Status.ExpiresAt != nil {
		expires = *ar.Status.ExpiresAt
	}
	ae.Spec.ExpiresAt = &expires
	ae.Spec.DeletionPolicy = v1.DeletionPolicyDelete
	return ae
}

// SetupWithManager registers the controller: requests, their approvals, and
// the AccessEntries they own.
func (r *AccessRequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.AccessRequest{}).
		Owns(&v1.AccessEntry{}).
		Watches(&v1.AccessApproval{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			a := o.(*v1.AccessApproval)
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: a.Namespace, Name: a.Spec.Request}}}
		})).
		Named("accessrequest").
		Complete(r)
}
