package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/accesspolicy"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/budget"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// +kubebuilder:rbac:groups=eksaccess.io,resources=clusteraccessconfigs,verbs=get;list;watch
// +kubebuilder:rbac:groups=eksaccess.io,resources=clusteraccessconfigs/status,verbs=get;update;patch

// modeRank orders authentication modes; EKS only moves up.
var modeRank = map[string]int{"CONFIG_MAP": 0, "API_AND_CONFIG_MAP": 1, "API": 2}

// ClusterAccessConfigReconciler moves a cluster's authentication mode forward,
// reports what the cluster holds, and prunes entries no AccessEntry declares.
type ClusterAccessConfigReconciler struct {
	Deps
	ConfigOptions

	// Hints are principals events named: judged at once (nil without events).
	Hints *PruneHints

	// queue is the controller's workqueue, for the budget's scheduler.
	queue queueRef
	// fullPrune is when each config (by UID) last judged every entry of its
	// cluster; fullPasses are the configs' *fullPass under way.
	fullPrune, fullPasses sync.Map
	// hintWindows are the configs' *hintWindow, by UID.
	hintWindows sync.Map
}

// clusterPass is one reconcile of one ClusterAccessConfig.
type clusterPass struct {
	cac  *v1.ClusterAccessConfig
	base *v1.ClusterAccessConfig
	// region, target and eks are set by connect.
	region string
	target awsapi.Target
	eks    awsapi.EKS
	// slot holds the EKS calls the pass reserved; its context carries it.
	slot   *awsapi.Slot
	events pendingEvents
	// room holds a full pass's leftovers to their namespace's entry limit; nil
	// outside one.
	room *leftoverRoom
	// released: the config was let go; there is nothing left to patch.
	released bool
}

// clusterStep is one step of a pass: nil to go on, an error to stop there.
type clusterStep func(ctx context.Context, p *clusterPass) error

// SetupWithManager registers the controller; status patches do not start a reconcile.
func (r *ClusterAccessConfigReconciler) SetupWithManager(mgr ctrl.Manager) error {
	mine := predicate.NewPredicateFuncs(func(o client.Object) bool { return r.manages(o) })
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1.ClusterAccessConfig{}, builder.WithPredicates(mine, predicate.Or(predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{}, deletionStarted))).
		// The budget's scheduler puts a config back in the queue when its calls can be made.
		WatchesRawSource(r.queue.source())
	if r.Hints != nil {
		b = b.WatchesRawSource(r.Hints.queue.source())
	}
	return b.Named("clusteraccessconfig").Complete(r)
}

// Reconcile reads the cluster, moves its mode forward if asked, then prunes or
// reports unmanaged entries; summarize writes conditions and status in one patch.
func (r *ClusterAccessConfigReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	cac := &v1.ClusterAccessConfig{}
	if err := r.Get(ctx, req.NamespacedName, cac); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !r.manages(cac) {
		return ctrl.Result{}, nil // another shard's
	}
	p := &clusterPass{cac: cac, base: cac.DeepCopy(), slot: &awsapi.Slot{}}
	ctx = awsapi.WithSlot(ctx, p.slot)
	defer func() { result, err = r.summarize(ctx, p, err) }()

	if !cac.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.release(ctx, p) // once no AccessEntry depends on it
	}
	return ctrl.Result{}, run(ctx, p,
		r.protect,              // the finalizer that keeps it while in use
		r.reportShared,         // where the rules let two namespaces name one principal
		r.connect,              // the region and the client of the config's role
		r.reserve,              // the calls of the pass, from the account's budget
		r.describeCluster,      // status, authentication mode, versions
		r.followUpdate,         // wait for an update in progress
		r.moveModeForward,      // start one when spec asks for a later mode
		r.requireAccessEntries, // Stalled while the cluster is CONFIG_MAP only
		r.prune,                // keep, report or delete entries no AccessEntry declares
	)
}

// reportShared says in status where the guardrails let two namespaces name the
// same principals (guardrails.SharedPrincipals): claims there go to whoever
// applies first. Reads the cluster's namespaces from the cache when a rule
// selects by label; no EKS call.
func (r *ClusterAccessConfigReconciler) reportShared(ctx context.Context, p *clusterPass) error {
	cfg, err := clusterGuardrails(ctx, r.Client, p.cac)
	if err != nil {
		return err
	}
	p.cac.Status.SharedPrincipals = cfg.SharedPrincipals()
	return nil
}

// run runs a pass's steps in order until one returns an error.
func run[P any](ctx context.Context, p P, steps ...func(context.Context, P) error) error {
	for _, step := range steps {
		if err := step(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// connect resolves the region (spec, or the operator's default) and the client of
// the config's role. Stalls with NoRegion when there is none.
func (r *ClusterAccessConfigReconciler) connect(_ context.Context, p *clusterPass) error {
	p.region = cmp.Or(p.cac.Spec.Region, r.DefaultRegion)
	if p.region == "" {
		return stall(v1.ReasonNoRegion, 0, "spec.region is empty and the operator has no default region: set spec.region or start the operator with --region")
	}
	p.target = awsapi.Target{Region: p.region, RoleARN: p.cac.Spec.RoleARN, ExternalID: p.cac.Spec.ExternalID}
	p.eks = r.AWS.For(p.target)
	keepTarget(p.cac, p.region)
	return nil
}

// reserve takes, from the account's budget, as many calls as a pass may make at
// once (a burst): reading the cluster and listing, reading and pruning its
// unmanaged entries. Without them the pass ends and the scheduler puts the
// config back in the queue when they are there; conditions stay as they are. A
// pass that needs more takes them call by call, and when those run out it is
// queued again (summarize), each pass pruning what it got to.
func (r *ClusterAccessConfigReconciler) reserve(_ context.Context, p *clusterPass) error {
	s := r.AWS.Budget()
	if s == nil {
		return nil
	}
	req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(p.cac)}
	g, w := s.Take(budget.Request{Key: awsapi.BudgetKey(p.target), ID: "config/" + p.cac.Name, Flow: p.cac.Spec.ClusterName, Class: budget.Foreground,
		Tokens: math.MaxInt32, Ready: func() { r.queue.addAs(req, readyPriority(budget.Foreground), 0) }})
	if g == nil {
		return &outcome{kind: kindDefer, quiet: true, after: w.For + 30*time.Second}
	}
	p.slot.Grant = g
	return nil
}

// manages reports whether this instance manages a config: exactly one shard
// acts on each, the one whose --selector matches its labels.
func (r *ClusterAccessConfigReconciler) manages(o client.Object) bool {
	return r.Selector.Matches(labels.Set(o.GetLabels()))
}

// deletionStarted passes the update that marks an object for deletion.
var deletionStarted = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	return e.ObjectOld.GetDeletionTimestamp().IsZero() && !e.ObjectNew.GetDeletionTimestamp().IsZero()
}}

// describeCluster reads the cluster (DescribeCluster) into status.
func (r *ClusterAccessConfigReconciler) describeCluster(ctx context.Context, p *clusterPass) error {
	cluster, err := p.eks.DescribeCluster(ctx, p.cac.Spec.ClusterName)
	if err != nil {
		return r.eksOutcome(p, err)
	}
	st, mode := &p.cac.Status, cluster.AuthenticationMode
	st.ClusterStatus = cluster.Status
	st.AccountID, _ = awsarn.AccountOf(cluster.ARN)
	st.ClusterCreatedAt = metaTime(cluster.CreatedAt)
	st.AuthenticationMode = mode
	st.KubernetesVersion = cluster.Version
	st.PlatformVersion = cluster.PlatformVersion
	st.AccessEntriesSupported = mode == "API" || mode == "API_AND_CONFIG_MAP"
	return nil
}

// followUpdate waits while the cluster is UPDATING: for the update the operator
// started (DescribeUpdate), or for someone else's.
func (r *ClusterAccessConfigReconciler) followUpdate(ctx context.Context, p *clusterPass) error {
	cac := p.cac
	u := cac.Status.Update
	if u == nil || u.Status != awsapi.UpdateInProgress {
		if cac.Status.ClusterStatus == awsapi.ClusterUpdating {
			return retryAfter(v1.ReasonClusterUpdating, r.PollInterval, "cluster %s is UPDATING; waiting for it to be ACTIVE", cac.Spec.ClusterName)
		}
		return nil
	}
	update, err := p.eks.DescribeUpdate(ctx, cac.Spec.ClusterName, u.ID)
	if err != nil {
		return r.eksOutcome(p, err)
	}
	u.Status = update.Status
	switch update.Status {
	case awsapi.UpdateInProgress:
		return retryAfter(v1.ReasonUpdatingAuthenticationMode, r.PollInterval, "EKS is moving cluster %s to authentication mode %s (update %s)", cac.Spec.ClusterName, u.AuthenticationMode, u.ID)
	case awsapi.UpdateSuccessful:
		p.events.add(corev1.EventTypeNormal, "AuthenticationModeUpdated", "cluster %s is now in authentication mode %s", cac.Spec.ClusterName, u.AuthenticationMode)
		if cac.Status.ClusterStatus == awsapi.ClusterUpdating {
			return retryAfter(v1.ReasonUpdatingAuthenticationMode, r.PollInterval, "EKS moved cluster %s to authentication mode %s; waiting for it to be ACTIVE", cac.Spec.ClusterName, u.AuthenticationMode)
		}
		return nil
	}
	return stall(v1.ReasonUpdateFailed, r.ResyncPeriod, "EKS update %s to authentication mode %s ended %s: %s", u.ID, u.AuthenticationMode, u.Status, strings.Join(update.Errors, "; "))
}

// moveModeForward asks EKS (UpdateClusterConfig) to move the cluster to the mode
// spec asks for, when that is later than its mode; never backwards.
func (r *ClusterAccessConfigReconciler) moveModeForward(ctx context.Context, p *clusterPass) error {
	cac := p.cac
	want := string(cac.Spec.AuthenticationMode)
	if want == "" || modeRank[want] <= modeRank[cac.Status.AuthenticationMode] {
		return nil
	}
	update, err := p.eks.SetAuthenticationMode(ctx, cac.Spec.ClusterName, want)
	if err != nil {
		return r.eksOutcome(p, err)
	}
	cac.Status.Update = &v1.ClusterUpdate{ID: update.ID, Status: update.Status, AuthenticationMode: want}
	cac.Status.ClusterStatus = awsapi.ClusterUpdating
	p.events.add(corev1.EventTypeNormal, "UpdatingAuthenticationMode", "asked EKS to move cluster %s from %s to %s", cac.Spec.ClusterName, cac.Status.AuthenticationMode, want)
	return retryAfter(v1.ReasonUpdatingAuthenticationMode, r.PollInterval, "EKS is moving cluster %s to authentication mode %s", cac.Spec.ClusterName, want)
}

// requireAccessEntries stalls while the cluster authenticates through the aws-auth
// ConfigMap only: it holds no access entries, so there is nothing to prune.
func (r *ClusterAccessConfigReconciler) requireAccessEntries(_ context.Context, p *clusterPass) error {
	if p.cac.Status.AccessEntriesSupported {
		return nil
	}
	return stall(v1.ReasonAuthenticationModeNotSupported, r.ResyncPeriod,
		"cluster %s only authenticates through the aws-auth ConfigMap; set spec.authenticationMode to API_AND_CONFIG_MAP or API to move it forward", p.cac.Spec.ClusterName)
}

// prune judges the entries no AccessEntry declares, and keeps, reports or
// deletes them as spec.unmanagedEntries says (pruneEntry): those events named
// at once (pruneHinted), and every entry of the cluster in a full pass when one
// is due or under way, which goes on over as many reconciles as the budget
// needs (fullPass).
func (r *ClusterAccessConfigReconciler) prune(ctx context.Context, p *clusterPass) error {
	if pass, err := r.pruneHinted(ctx, p); !pass || err != nil {
		return err
	}
	fp := r.fullPassOf(p.cac)
	if err := r.listAll(ctx, p, fp); err != nil {
		return err
	}
	if err := r.judgeAll(ctx, p, fp); err != nil {
		return err
	}
	r.endFullPass(p, fp)
	return nil
}

// hintedFullPassGap is how soon after a full pass hints that overflowed start
// another: a flood of events costs at most a listing of the cluster this often.
const hintedFullPassGap = time.Minute

// pruneHinted judges the principals events named at once, reading each: at
// most hintCap a hintedFullPassGap. Past that (a flood of events, forged ones
// say), the hints overflow and call for a full pass instead, which reads only
// what EKS holds: at most one a hintedFullPassGap, and the principals wait for
// it. A full pass under way may have listed past a principal created since, so
// its hints are judged too, and an overflow waits for the pass after it. pass:
// the full pass goes on (none was hinted, one is due or under way).
func (r *ClusterAccessConfigReconciler) pruneHinted(ctx context.Context, p *clusterPass) (pass bool, err error) {
	hinted, overflow := r.Hints.take(p.cac.Name)
	since := time.Duration(math.MaxInt64)
	if last, ok := r.fullPrune.Load(p.cac.UID); ok {
		since = time.Since(last.(time.Time))
	}
	_, underWay := r.fullPasses.Load(p.cac.UID)
	pass = hinted == nil && !overflow || underWay || since >= r.ResyncPeriod
	if overflow || !r.hintReads(p.cac.UID, len(hinted)) {
		if !underWay && since >= hintedFullPassGap {
			return true, nil // the pass that starts now lists them
		}
		wait := hintedFullPassGap - since
		if underWay {
			wait = hintedFullPassGap
		}
		r.Hints.overflowed(p.cac, wait)
		return pass, nil
	}
	if len(hinted) == 0 {
		return pass, nil
	}
	if left, err := r.pruneOnly(ctx, p, hinted); err != nil {
		r.Hints.add(p.cac, left) // judged on the pass that follows
		return false, err
	}
	return pass, nil
}

// hintWindow counts the principals a config judged from hints since start.
type hintWindow struct {
	start time.Time
	n     int
}

// hintReads takes n principals from the config's allowance of hintCap a
// hintedFullPassGap; false when they do not fit. A config's passes never run
// at once, so its window needs no lock.
func (r *ClusterAccessConfigReconciler) hintReads(uid types.UID, n int) bool {
	v, _ := r.hintWindows.LoadOrStore(uid, &hintWindow{})
	w := v.(*hintWindow)
	if time.Since(w.start) >= hintedFullPassGap {
		w.start, w.n = time.Now(), 0
	}
	if w.n+n > hintCap {
		return false
	}
	w.n += n
	return true
}

// pruneOnly judges the principals events named, as prune judges each entry,
// without listing the cluster: their records in status are replaced, the
// others' kept, and so is the record of a deletion. On an error it returns the
// principals it had not judged.
func (r *ClusterAccessConfigReconciler) pruneOnly(ctx context.Context, p *clusterPass, principals []string) (left []string, err error) {
	declared, err := r.declared(ctx, p.cac, p.region)
	if err != nil {
		return principals, err
	}
	for i, principal := range principals {
		if declared[principal] == shieldsAny {
			continue
		}
		u, err := r.pruneEntry(ctx, p, principal, declared[principal] == shieldsOwnEntry)
		if err != nil {
			return principals[i:], err
		}
		kept := slices.DeleteFunc(p.cac.Status.UnmanagedEntries, func(o v1.UnmanagedEntry) bool {
			history := o.Action == guardrails.PruneDelete || o.Action == guardrails.PruneRevoked
			return o.PrincipalARN == principal && (u == nil && !history || u != nil && o != *u)
		})
		if u != nil && !slices.Contains(kept, *u) {
			kept = append(kept, *u)
		}
		p.cac.Status.UnmanagedEntries = kept
	}
	return nil, nil
}

// pruneEntry reads the entry of a principal no AccessEntry declares, and keeps,
// reports or deletes it (guardrails.DecidePrune). Entries an operator owns (a
// Retained entry, say), entries a protect pattern names, and entries EKS made
// itself are never deleted, unless deleteAlso lists the last; the returned
// record says why each one is kept. Entries a tenant's AccessEntry left behind
// are first held to its namespace's rule (judgeLeftover). creating: an
// AccessEntry may still create the principal's entry, so one carrying ownership
// tags is its own in the making and left alone. nil: the entry is gone already,
// or left alone.
func (r *ClusterAccessConfigReconciler) pruneEntry(ctx context.Context, p *clusterPass, principal string, creating bool) (*v1.UnmanagedEntry, error) {
	cac, cl := p.cac, p.eks
	obs, err := cl.Describe(ctx, cac.Spec.ClusterName, principal)
	if err == nil && creating {
		if _, owned := ownership.Of(obs.Tags); owned {
			return nil, nil
		}
	}
	if err == nil && v1.AccessEntryType(obs.Type).ListsPolicies() {
		// What the entry carries tells whether EKS made it for a component, and
		// whether it is admin-equivalent (the admin holders gauge).
		obs.Policies, err = cl.Policies(ctx, cac.Spec.ClusterName, principal)
	}
	switch {
	case awsapi.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, r.eksOutcome(p, err)
	}
	if u, err := r.judgeLeftover(ctx, p, principal, obs); u != nil || err != nil {
		return u, err
	}
	u := unmanagedEntry(cac, principal, obs)
	_, owned := ownership.Of(obs.Tags)
	u.Action, u.Reason = guardrails.DecidePrune(cac.Spec.UnmanagedEntries, guardrails.PruneInput{PrincipalARN: principal, Observed: *obs, Owned: owned}, clusterCreatedAt(cac))
	if u.Action != guardrails.PruneDelete {
		return &u, nil
	}
	if err := cl.Delete(ctx, cac.Spec.ClusterName, principal); err != nil && !awsapi.IsNotFound(err) {
		return nil, r.eksOutcome(p, err)
	}
	p.events.add(corev1.EventTypeNormal, "PrunedEntry", "deleted the unmanaged access entry of %s (%s) from cluster %s", principal, u.Type, cac.Spec.ClusterName)
	// Recorded at once: a pass cut short (by the budget, say) still says what it
	// deleted, and the next pass no longer lists it.
	if !slices.Contains(cac.Status.UnmanagedEntries, u) {
		cac.Status.UnmanagedEntries = append(cac.Status.UnmanagedEntries, u)
	}
	return &u, nil
}

// unmanagedEntry is the record of an entry no AccessEntry declares, with what it
// reaches and what shows EKS made it; the action is the caller's to decide.
func unmanagedEntry(cac *v1.ClusterAccessConfig, principal string, obs *plan.Observed) v1.UnmanagedEntry {
	u := v1.UnmanagedEntry{PrincipalARN: principal, Type: obs.Type, MadeByEKS: guardrails.MadeByEKSHoldingAdmin(principal, *obs, clusterCreatedAt(cac))}
	for arn := range obs.Policies {
		u.AdminEquivalent = u.AdminEquivalent || accesspolicy.IsAdminEquivalentARN(arn)
	}
	return u
}

// clusterCreatedAt is when EKS made the config's cluster; zero when not read yet.
func clusterCreatedAt(cac *v1.ClusterAccessConfig) time.Time {
	if c := cac.Status.ClusterCreatedAt; c != nil {
		return c.Time
	}
	return time.Time{}
}

// declared are the principals the cluster's AccessEntries declare and may declare,
// with how far each shields its principal's entry from pruning: an AccessEntry
// the guardrails refuse does not, and one outside the trusted namespaces as far
// as mayOwn says.
// Listed after EKS, so that an entry an AccessEntry just created is declared.
func (r *ClusterAccessConfigReconciler) declared(ctx context.Context, cac *v1.ClusterAccessConfig, region string) (map[string]shield, error) {
	// Every shard's AccessEntries, from the API server: pruning on a partial
	// picture would delete what another shard declares.
	list := &v1.AccessEntryList{}
	if err := r.APIReader.List(ctx, list, client.MatchingFields{clusterNameField: cac.Spec.ClusterName}); err != nil {
		return nil, retryAfter(v1.ReasonPruningRefused, r.PollInterval,
			"cannot list every AccessEntry of cluster %s (%v), so the operator does not know what is declared and deletes nothing; it needs list on accessentries in every namespace",
			cac.Spec.ClusterName, err)
	}
	cfg, err := clusterGuardrails(ctx, r.Client, cac)
	if err != nil {
		return nil, err
	}
	cfg = cfg.Prepare()
	declared := map[string]shield{}
	for i := range list.Items {
		ae := &list.Items[i]
		if cmp.Or(ae.Spec.Region, r.DefaultRegion) != region || !ae.DeletionTimestamp.IsZero() || ae.Spec.Expired(time.Now()) || ae.Principal() == "" {
			// An object being deleted shields nothing: its entry is deleted with it,
			// or left behind and judged as such, however long another finalizer
			// holds the object. Nor does an expired one: it asks for no entry;
			// nor one whose permission set is not resolved: it holds none.
			continue
		}
		if !guardrails.Trusted(ae.Namespace, r.TrustedNamespaces) {
			ns := &corev1.Namespace{}
			if err := r.Get(ctx, client.ObjectKey{Name: ae.Namespace}, ns); client.IgnoreNotFound(err) != nil {
				return nil, err
			}
			if v := guardrails.Judge(cfg, guardrails.RequestFor(ae, ns.Labels)); v.Allowed() {
				declared[ae.Principal()] = max(declared[ae.Principal()], mayOwn(ae, v, cac.Spec.ClusterName))
			}
			continue
		}
		declared[ae.Principal()] = shieldsAny
	}
	return declared, nil
}

// summarize ends a pass: conditions and the result from how it ended, its events,
// and one status patch.
func (r *ClusterAccessConfigReconciler) summarize(ctx context.Context, p *clusterPass, err error) (ctrl.Result, error) {
	p.slot.Release()
	if _, over := awsapi.OverBudget(err); over {
		err = r.reserve(ctx, p) // the calls the pass needed beyond its reservation
	}
	res, err := r.ending(p.cac).conclude(err)
	p.events.record(r.Recorder, p.cac)
	if !p.released && !equality.Semantic.DeepEqual(p.base.Status, p.cac.Status) {
		if perr := r.Status().Patch(ctx, p.cac, client.MergeFrom(p.base)); perr != nil {
			err = errors.Join(err, client.IgnoreNotFound(perr))
		}
	}
	if err != nil {
		return requeuedAs(ctrl.Result{}), err // retried by the workqueue's backoff, which ignores all but the priority
	}
	return requeuedAs(res), nil
}

// ending is how a ClusterAccessConfig's pass ends: read again every resync;
// waiting polls and never stalls.
func (r *ClusterAccessConfigReconciler) ending(cac *v1.ClusterAccessConfig) ending {
	msg := fmt.Sprintf("cluster %s is %s in mode %s", cac.Spec.ClusterName, cac.Status.ClusterStatus, cac.Status.AuthenticationMode)
	if n := len(cac.Status.UnmanagedEntries); n > 0 {
		msg += fmt.Sprintf("; %d entries no AccessEntry declares", n)
	}
	return ending{conds: clusterConfigConditions(cac), ready: msg, readyAfter: r.ResyncPeriod, retryAfter: r.PollInterval, waitAfter: r.PollInterval}
}

// eksOutcome words an AWS error met while reading or changing the cluster.
func (r *ClusterAccessConfigReconciler) eksOutcome(p *clusterPass, err error) error {
	cac := p.cac
	switch awsapi.Classify(err) {
	case awsapi.NotFound, awsapi.ClusterNotFound:
		role := ""
		if cac.Spec.RoleARN != "" {
			role = " (role " + cac.Spec.RoleARN + ")"
		}
		return stall(v1.ReasonClusterNotFound, r.ResyncPeriod, "EKS has no cluster %s in region %s for the operator's credentials%s; check spec.clusterName, spec.region and spec.roleARN",
			cac.Spec.ClusterName, p.region, role)
	case awsapi.AccessDenied:
		return stall(v1.ReasonAccessDenied, r.ResyncPeriod, "the operator's IAM identity may not call %s: %s", awsapi.Operation(err), awsapi.Message(err))
	case awsapi.AssumeRoleDenied:
		return stall(v1.ReasonAccessDenied, r.ResyncPeriod, "%s", assumeRoleAdvice(err))
	case awsapi.BadCredentials:
		return stall(v1.ReasonAccessDenied, r.ResyncPeriod, "AWS does not accept the operator's credentials: %s", awsapi.Message(err))
	case awsapi.InvalidSpec:
		return stall(v1.ReasonInvalidSpec, r.ResyncPeriod, "EKS refused the request: %s", awsapi.Message(err))
	case awsapi.Refused:
		return stall(v1.ReasonRefusedByEKS, r.ResyncPeriod, "EKS refused %s: %s", awsapi.Operation(err), awsapi.Message(err))
	}
	return failed(v1.ReasonEKSError, err, "EKS call failed, retrying: "+err.Error())
}
