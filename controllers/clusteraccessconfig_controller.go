package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
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
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups=eksaccess.io,resources=clusteraccessconfigs,verbs=get;list;watch
// +kubebuilder:rbac:groups=eksaccess.io,resources=clusteraccessconfigs/status,verbs=get;update;patch

// modeRank orders authentication modes; EKS only moves up.
var modeRank = map[string]int{"CONFIG_MAP": 0, "API_AND_CONFIG_MAP": 1, "API": 2}

// ClusterAccessConfigReconciler moves a cluster's authentication mode forward,
// reports what the cluster holds, and prunes entries no AccessEntry declares.
type ClusterAccessConfigReconciler struct {
	client.Client
	EKS      EKSClients
	Recorder events.EventRecorder

	// DefaultRegion is used for objects without spec.region.
	DefaultRegion string
	// ResyncPeriod is how often the cluster is read again.
	ResyncPeriod time.Duration
	// PollInterval is how often an update in progress is checked.
	PollInterval time.Duration
}

// SetupWithManager registers the controller; status patches do not start a reconcile.
func (r *ClusterAccessConfigReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1.ClusterAccessConfig{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("clusteraccessconfig").
		Complete(r)
}

// Reconcile reads the cluster, moves its mode forward if asked, then prunes or
// reports unmanaged entries, and writes status with one patch.
func (r *ClusterAccessConfigReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cac := &v1.ClusterAccessConfig{}
	if err := r.Get(ctx, req.NamespacedName, cac); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	orig := cac.DeepCopy()
	res, err := r.reconcile(ctx, cac)
	if !equality.Semantic.DeepEqual(orig.Status, cac.Status) {
		if perr := r.Status().Patch(ctx, cac, client.MergeFrom(orig)); perr != nil {
			err = errors.Join(err, client.IgnoreNotFound(perr))
		}
	}
	return res, err
}

func (r *ClusterAccessConfigReconciler) reconcile(ctx context.Context, cac *v1.ClusterAccessConfig) (ctrl.Result, error) {
	region := cmp.Or(cac.Spec.Region, r.DefaultRegion)
	if region == "" {
		r.setStalled(cac, v1.ReasonNoRegion, "spec.region is empty and the operator has no default region: set spec.region or start the operator with --region")
		return ctrl.Result{}, nil
	}
	cl := r.EKS.For(Target{Region: region, RoleARN: cac.Spec.RoleARN, ExternalID: cac.Spec.ExternalID})

	out, err := cl.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(cac.Spec.ClusterName)})
	if err != nil {
		return r.failure(cac, region, err)
	}
	cluster := out.Cluster
	mode := ""
	if cluster.AccessConfig != nil {
		mode = string(cluster.AccessConfig.AuthenticationMode)
	}
	cac.Status.ClusterStatus = string(cluster.Status)
	cac.Status.AuthenticationMode = mode
	cac.Status.KubernetesVersion = aws.ToString(cluster.Version)
	cac.Status.PlatformVersion = aws.ToString(cluster.PlatformVersion)
	cac.Status.AccessEntriesSupported = mode == "API" || mode == "API_AND_CONFIG_MAP"

	if done, res, err := r.followUpdate(ctx, cl, cac); !done {
		return res, err
	}
	if want := string(cac.Spec.AuthenticationMode); want != "" && modeRank[want] > modeRank[mode] {
		return r.startUpdate(ctx, cl, cac, want)
	}
	if !cac.Status.AccessEntriesSupported {
		r.setStalled(cac, v1.ReasonAuthenticationModeNotSupported, fmt.Sprintf(
			"cluster %s only authenticates through the aws-auth ConfigMap; set spec.authenticationMode to API_AND_CONFIG_MAP or API to move it forward", cac.Spec.ClusterName))
		return ctrl.Result{RequeueAfter: r.ResyncPeriod}, nil
	}

	if err := r.prune(ctx, cl, cac, region); err != nil {
		return r.failure(cac, region, err)
	}
	msg := fmt.Sprintf("cluster %s is %s in mode %s", cac.Spec.ClusterName, cac.Status.ClusterStatus, mode)
	if n := len(cac.Status.UnmanagedEntries); n > 0 {
		msg += fmt.Sprintf("; %d entries no AccessEntry declares", n)
	}
	meta.SetStatusCondition(&cac.Status.Conditions, metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionTrue,
		Reason: v1.ReasonSynced, Message: msg, ObservedGeneration: cac.Generation})
	meta.RemoveStatusCondition(&cac.Status.Conditions, v1.ConditionReconciling)
	meta.RemoveStatusCondition(&cac.Status.Conditions, v1.ConditionStalled)
	cac.Status.ObservedGeneration = cac.Generation
	return ctrl.Result{RequeueAfter: wait.Jitter(r.ResyncPeriod, 0.1)}, nil
}

// followUpdate checks the update the operator started, while it runs. done is false
// while it is in progress (or failed), with the result to return.
func (r *ClusterAccessConfigReconciler) followUpdate(ctx context.Context, cl EKSAPI, cac *v1.ClusterAccessConfig) (done bool, res ctrl.Result, err error) {
	u := cac.Status.Update
	if u == nil || u.Status != string(types.UpdateStatusInProgress) {
		if cac.Status.ClusterStatus == string(types.ClusterStatusUpdating) {
			// Someone else's update: wait for it.
			r.setReconciling(cac, v1.ReasonClusterUpdating, fmt.Sprintf("cluster %s is UPDATING; waiting for it to be ACTIVE", cac.Spec.ClusterName))
			return false, ctrl.Result{RequeueAfter: r.PollInterval}, nil
		}
		return true, ctrl.Result{}, nil
	}
	out, err := cl.DescribeUpdate(ctx, &eks.DescribeUpdateInput{Name: aws.String(cac.Spec.ClusterName), UpdateId: aws.String(u.ID)})
	if err != nil {
		res, err := r.failure(cac, cmp.Or(cac.Spec.Region, r.DefaultRegion), err)
		return false, res, err
	}
	u.Status = string(out.Update.Status)
	switch out.Update.Status {
	case types.UpdateStatusInProgress:
		r.setReconciling(cac, v1.ReasonUpdatingAuthenticationMode, fmt.Sprintf("EKS is moving cluster %s to authentication mode %s (update %s)", cac.Spec.ClusterName, u.AuthenticationMode, u.ID))
		return false, ctrl.Result{RequeueAfter: r.PollInterval}, nil
	case types.UpdateStatusSuccessful:
		r.event(cac, corev1.EventTypeNormal, "AuthenticationModeUpdated", "cluster %s is now in authentication mode %s", cac.Spec.ClusterName, u.AuthenticationMode)
		if cac.Status.ClusterStatus == string(types.ClusterStatusUpdating) {
			return false, ctrl.Result{RequeueAfter: r.PollInterval}, nil
		}
		return true, ctrl.Result{}, nil
	}
	var details []string
	for _, e := range out.Update.Errors {
		details = append(details, string(e.ErrorCode)+": "+aws.ToString(e.ErrorMessage))
	}
	r.setStalled(cac, v1.ReasonUpdateFailed, fmt.Sprintf("EKS update %s to authentication mode %s ended %s: %s", u.ID, u.AuthenticationMode, u.Status, strings.Join(details, "; ")))
	return false, ctrl.Result{RequeueAfter: r.ResyncPeriod}, nil
}

// startUpdate asks EKS to move the cluster's mode forward.
func (r *ClusterAccessConfigReconciler) startUpdate(ctx context.Context, cl EKSAPI, cac *v1.ClusterAccessConfig, mode string) (ctrl.Result, error) {
	out, err := cl.UpdateClusterConfig(ctx, &eks.UpdateClusterConfigInput{
		Name:         aws.String(cac.Spec.ClusterName),
		AccessConfig: &types.UpdateAccessConfigRequest{AuthenticationMode: types.AuthenticationMode(mode)},
	})
	if err != nil {
		return r.failure(cac, cmp.Or(cac.Spec.Region, r.DefaultRegion), err)
	}
	cac.Status.Update = &v1.ClusterUpdate{ID: aws.ToString(out.Update.Id), Status: string(out.Update.Status), AuthenticationMode: mode}
	cac.Status.ClusterStatus = string(types.ClusterStatusUpdating)
	r.event(cac, corev1.EventTypeNormal, "UpdatingAuthenticationMode", "asked EKS to move cluster %s from %s to %s", cac.Spec.ClusterName, cac.Status.AuthenticationMode, mode)
	r.setReconciling(cac, v1.ReasonUpdatingAuthenticationMode, fmt.Sprintf("EKS is moving cluster %s to authentication mode %s", cac.Spec.ClusterName, mode))
	return ctrl.Result{RequeueAfter: r.PollInterval}, nil
}

// prune lists the cluster's entries, finds those no AccessEntry declares, and keeps,
// reports or deletes them as spec.unmanagedEntries says. Entries of node types,
// entries an operator owns (a Retained entry, say) and entries a protect pattern
// names are never deleted.
func (r *ClusterAccessConfigReconciler) prune(ctx context.Context, cl EKSAPI, cac *v1.ClusterAccessConfig, region string) error {
	var principals []string
	pages := eks.NewListAccessEntriesPaginator(cl, &eks.ListAccessEntriesInput{ClusterName: aws.String(cac.Spec.ClusterName), MaxResults: aws.Int32(100)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		principals = append(principals, page.AccessEntries...)
	}
	// Listed after EKS, so that an entry an AccessEntry just created is declared.
	declared := map[string]bool{}
	list := &v1.AccessEntryList{}
	if err := r.List(ctx, list, client.MatchingFields{clusterNameField: cac.Spec.ClusterName}); err != nil {
		return err
	}
	for _, ae := range list.Items {
		if cmp.Or(ae.Spec.Region, region) == region {
			declared[ae.Spec.PrincipalARN] = true
		}
	}
	slices.Sort(principals)

	var unmanaged []v1.UnmanagedEntry
	for _, p := range principals {
		if declared[p] {
			continue
		}
		out, err := cl.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(cac.Spec.ClusterName), PrincipalArn: aws.String(p)})
		if err != nil {
			if classify(err) == errNotFound {
				continue
			}
			return err
		}
		e := out.AccessEntry
		u := v1.UnmanagedEntry{PrincipalARN: p, Type: aws.ToString(e.Type), Action: "Kept"}
		_, owned := OwnerOf(e.Tags)
		switch {
		case cac.Spec.UnmanagedEntries.Policy != v1.UnmanagedDelete:
		case owned || protected(cac.Spec.UnmanagedEntries.Protect, p, u.Type):
			u.Action = "Protected"
		case cac.Spec.UnmanagedEntries.DryRun:
			u.Action = "WouldDelete"
		default:
			if _, err := cl.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(cac.Spec.ClusterName), PrincipalArn: aws.String(p)}); err != nil && classify(err) != errNotFound {
				return err
			}
			u.Action = "Deleted"
			r.event(cac, corev1.EventTypeNormal, "PrunedEntry", "deleted the unmanaged access entry of %s (%s) from cluster %s", p, u.Type, cac.Spec.ClusterName)
		}
		unmanaged = append(unmanaged, u)
	}
	// Earlier deletions stay listed (the latest 50), so that status tells what was removed.
	for _, old := range cac.Status.UnmanagedEntries {
		if old.Action == "Deleted" && !slices.Contains(principals, old.PrincipalARN) && len(unmanaged) < 50 {
			unmanaged = append(unmanaged, old)
		}
	}
	cac.Status.UnmanagedEntries = unmanaged
	return nil
}

// protected reports whether a protect pattern covers an entry. Node types are
// protected unless a "type:TYPE" pattern names theirs.
func protected(patterns []string, principal, typ string) bool {
	nodeType := typ != "" && typ != string(v1.TypeStandard)
	for _, p := range patterns {
		if t, ok := strings.CutPrefix(p, "type:"); ok {
			if t == typ {
				nodeType = false
			}
			continue
		}
		if ok, _ := path.Match(strings.ReplaceAll(p, "/", "\x00"), strings.ReplaceAll(principal, "/", "\x00")); ok {
			return true
		}
	}
	return nodeType
}

func (r *ClusterAccessConfigReconciler) failure(cac *v1.ClusterAccessConfig, region string, err error) (ctrl.Result, error) {
	switch classify(err) {
	case errNotFound, errClusterNotFound:
		r.setStalled(cac, v1.ReasonClusterNotFound, fmt.Sprintf("EKS has no cluster %s in region %s for the operator's credentials%s; check spec.clusterName, spec.region and spec.roleARN",
			cac.Spec.ClusterName, region, map[bool]string{true: " (role " + cac.Spec.RoleARN + ")", false: ""}[cac.Spec.RoleARN != ""]))
		return ctrl.Result{RequeueAfter: r.ResyncPeriod}, nil
	case errAccessDenied:
		r.setStalled(cac, v1.ReasonAccessDenied, fmt.Sprintf("the operator's IAM identity may not call %s: %s", operationOf(err), eksMessage(err)))
		return ctrl.Result{RequeueAfter: r.ResyncPeriod}, nil
	case errInvalid:
		r.setStalled(cac, v1.ReasonInvalidSpec, "EKS refused the request: "+eksMessage(err))
		return ctrl.Result{RequeueAfter: r.ResyncPeriod}, nil
	}
	r.setReconciling(cac, v1.ReasonEKSError, "EKS call failed, retrying: "+err.Error())
	return ctrl.Result{}, err
}

func (r *ClusterAccessConfigReconciler) setReconciling(cac *v1.ClusterAccessConfig, reason, msg string) {
	meta.SetStatusCondition(&cac.Status.Conditions, metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, Message: msg, ObservedGeneration: cac.Generation})
	meta.SetStatusCondition(&cac.Status.Conditions, metav1.Condition{Type: v1.ConditionReconciling, Status: metav1.ConditionTrue, Reason: reason, Message: msg, ObservedGeneration: cac.Generation})
	meta.RemoveStatusCondition(&cac.Status.Conditions, v1.ConditionStalled)
}

func (r *ClusterAccessConfigReconciler) setStalled(cac *v1.ClusterAccessConfig, reason, msg string) {
	meta.SetStatusCondition(&cac.Status.Conditions, metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, Message: msg, ObservedGeneration: cac.Generation})
	meta.SetStatusCondition(&cac.Status.Conditions, metav1.Condition{Type: v1.ConditionStalled, Status: metav1.ConditionTrue, Reason: reason, Message: msg, ObservedGeneration: cac.Generation})
	meta.RemoveStatusCondition(&cac.Status.Conditions, v1.ConditionReconciling)
	cac.Status.ObservedGeneration = cac.Generation
}

func (r *ClusterAccessConfigReconciler) event(cac *v1.ClusterAccessConfig, eventType, reason, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(cac, nil, eventType, reason, "Reconcile", format, args...)
	}
}
