package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/budget"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// schedule decides whether the pass calls EKS at all, and reserves from the
// account's budget the calls it expects to make. An object Ready at its
// generation, reached the way status records, that no sweep suspects, for which
// no verification is asked (the eksaccess.io/verify annotation) and whose
// verification is not due, is left alone until it is: the sweeps watch it in the
// meantime. Verification is background work; everything else (a new or changed
// spec, an object not Ready, drift a sweep found, a verification asked for) is
// foreground and comes first.
// Without tokens the pass ends at once and the scheduler puts the object back in
// the queue when they are there: a worker never waits for an account's budget.
func (r *AccessEntryReconciler) schedule(ctx context.Context, p *entryPass) error {
	r.Sweeper.Watch(p.id.ClusterName, p.target)
	requested := p.ae.Annotations[v1.VerifyAnnotation] != p.ae.Status.LastHandledVerify
	if left := verifyLeft(p.ae); requested && p.synced && left > 0 {
		// Honoured at most once per verifyEvery: a tenant writing the annotation
		// at any rate gets one read a minute, not one per write.
		return skipFor(left)
	}
	// Adopting an entry that exists already is the fix an AlreadyExists object
	// was told; it is foreground, as a spec change is.
	adopting := p.ae.Annotations[v1.AdoptAnnotation] == "true" && readyReason(p.ae) == v1.ReasonAlreadyExists
	p.recheck = !requested && !adopting && rechecksOnly(p.ae)
	if p.synced && !r.Suspects.Has(p.ae.UID) && !requested && sameTarget(p) {
		if left := r.verificationLeft(ctx, p); left > 0 {
			// Looked at again within VerifyPeriod whatever the events say: when
			// they stop arriving, the shorter period holds from then on.
			return r.checkPrincipalBetween(ctx, p, min(left, max(r.VerifyPeriod, time.Second)))
		}
		p.verifying = true
		p.slot.Tier = "verify"
	}
	if r.AWS.Budget() == nil {
		return nil
	}
	g, err := r.take(p, awsapi.BudgetKey(p.target), r.estimate(p))
	p.slot.Grant = g
	return err
}

// rechecksOnly reports whether a pass that gets past the guardrails only checks
// again an object stalled at its generation. An object the guardrails refused
// and allow now (the platform widened its rule) is new work, not a recheck: its
// grant does not wait for every other namespace to go quiet. One refused an
// adoption still rechecks.
func rechecksOnly(ae *v1.AccessEntry) bool {
	if c := readyCondition(ae); c != nil && c.Reason == v1.ReasonNotPermitted && !strings.Contains(c.Message, notAdoptable) {
		return false
	}
	return stalledAtGeneration(ae)
}

// notAdoptable is in the message of an object refused an existing entry.
const notAdoptable = "may not be adopted"

// class is the pass's class in its account's budget: verification, and the
// recheck of an object stalled at its generation (Conflict, AlreadyExists, a
// refused object's revocation read), are background work; everything else is
// foreground. A spec change comes first at once; a backlog of objects that
// cannot progress waits behind everyone else's changes.
func (p *entryPass) class() budget.Class {
	switch {
	case p.revoking:
		return budget.Revocation
	case p.verifying || p.recheck:
		return budget.Background
	}
	return budget.Foreground
}

// flowOf is the turn the pass's work takes in its account's budget: its cluster
// and namespace.
func flowOf(p *entryPass) string {
	cluster := p.id.ClusterName
	if cluster == "" && p.ae.Status.Identity != nil {
		cluster = p.ae.Status.Identity.ClusterName
	}
	return cluster + "/" + p.ae.Namespace
}

// stalledAtGeneration reports whether the object is Stalled, for a reason other
// than a refused spec, at its current generation: a pass now only rechecks.
func stalledAtGeneration(ae *v1.AccessEntry) bool {
	c := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionStalled)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == ae.Generation
}

// take asks the account's budget for the pass's tokens: the grant, or, when they
// are not there, the outcome of a pass that waits for them (the scheduler puts
// the object back in the queue once they are set aside). Work takes turns per
// cluster and namespace (flowOf), so that one namespace's backlog of thousands
// of objects holds up another namespace's change by a turn, not by the backlog.
func (r *AccessEntryReconciler) take(p *entryPass, key budget.Key, tokens int) (*budget.Grant, error) {
	req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(p.ae)}
	// The class is read here, once: Ready runs on the budget's goroutine,
	// perhaps while this pass is still running.
	c := p.class()
	g, w := r.AWS.Budget().Take(budget.Request{Key: key, ID: string(p.ae.UID), Flow: flowOf(p), Class: c, Tokens: tokens,
		Ready: func() { r.queue.addAs(req, readyPriority(c), 0) }})
	if g == nil {
		return nil, rateLimited(key, c, w.For)
	}
	return g, nil
}

// readyReason is the reason of the object's Ready condition, "" without one.
func readyReason(ae *v1.AccessEntry) string {
	if c := readyCondition(ae); c != nil {
		return c.Reason
	}
	return ""
}

// verifyEvery is how often eksaccess.io/verify is honoured at most, per object.
const verifyEvery = time.Minute

// verifyLeft is how long until a verification asked for with the annotation
// may be made: at once the first time, then verifyEvery after the last full read.
func verifyLeft(ae *v1.AccessEntry) time.Duration {
	if ae.Status.LastVerifiedAt == nil || ae.Status.LastHandledVerify == "" {
		return 0
	}
	return max(0, time.Until(ae.Status.LastVerifiedAt.Add(verifyEvery)))
}

// sameTarget: status records the entry of the pass's identity, reached through
// the pass's role: nothing moved.
func sameTarget(p *entryPass) bool {
	st := &p.ae.Status
	return st.Identity != nil && *st.Identity == p.id && st.RoleARN == p.target.RoleARN && st.AccessEntryARN != ""
}

// verificationLeft is how long until the object's entry is due a full read; 0
// when it is due. While EKS's events of the entry's account and region arrive,
// EventsVerifyPeriod holds.
func (r *AccessEntryReconciler) verificationLeft(ctx context.Context, p *entryPass) time.Duration {
	ae, period := p.ae, r.VerifyPeriod
	if ae.Status.LastVerifiedAt == nil || period <= 0 {
		return 0
	}
	if r.Events != nil {
		if account, _, err := r.AWS.Account(ctx, p.target); err == nil && r.Events.Flowing(account, p.target.Region) {
			period = r.EventsVerifyPeriod
		}
	}
	return max(0, time.Until(ae.Status.LastVerifiedAt.Add(period)))
}

// estimate is how many EKS calls the pass expects to make: a new entry's create
// and its policies; an existing one's reads, and, for a spec change, the writes
// status says it needs. A pass that needs more takes them call by call.
func (r *AccessEntryReconciler) estimate(p *entryPass) int {
	st := &p.ae.Status
	if !sameTarget(p) {
		if p.ae.Annotations[v1.AdoptAnnotation] == "true" {
			return 3 + len(p.ae.Spec.AccessPolicies) // the reads, the ownership tags, the policies
		}
		if p.recheck {
			return 2 // refused a claim before: the create finds the entry, and reads it
		}
		return 1 + len(p.ae.Spec.AccessPolicies)
	}
	reads := 1
	if p.id.Type.ListsPolicies() || len(p.ae.Spec.AccessPolicies) > 0 {
		reads++
	}
	if p.verifying {
		return reads
	}
	desired := plan.DesiredFor(p.ae, p.id, r.InstanceID)
	known := plan.Observed{ARN: st.AccessEntryARN, Type: string(p.id.Type), Username: st.Username, Groups: st.KubernetesGroups,
		Tags: desired.Tags, Policies: map[string]plan.ObservedPolicy{}}
	for _, ap := range st.AccessPolicies {
		known.Policies[ap.PolicyARN] = plan.ObservedPolicy{Scope: plan.Scope{Type: string(ap.AccessScope.Type), Namespaces: ap.AccessScope.Namespaces}}
	}
	return reads + plan.Compute(desired, known, st.ManagedTags).Writes()
}

// scheduleRemoval reserves the calls of a deletion (the entry read, then
// deleted) as foreground work.
func (r *AccessEntryReconciler) scheduleRemoval(_ context.Context, p *entryPass) error {
	id := p.ae.Status.Identity
	if r.AWS.Budget() == nil || id == nil {
		return nil
	}
	g, err := r.take(p, awsapi.BudgetKey(awsapi.Target{Region: id.Region, RoleARN: p.ae.Status.RoleARN}), 2+len(p.ae.Status.RetainedEntries))
	p.slot.Grant = g
	return err
}

// forget drops what the principal check, the sweeps and the budget keep for an
// object that is gone.
func (r *AccessEntryReconciler) forget(ae *v1.AccessEntry) {
	r.Suspects.Clear(ae.UID)
	r.nextPrincipalCheck.Delete(ae.UID)
	r.judgedUnder.Delete(ae.UID)
	if s := r.AWS.Budget(); s != nil {
		s.Forget(string(ae.UID))
	}
}

// rateLimitedAfter is the wait beyond which a foreground object says it is
// rate-limited: shorter waits are the budget's ordinary pace.
const rateLimitedAfter = 5 * time.Second

// rateLimited ends a pass that has no tokens. The scheduler requeues the object
// when they come; the result's requeue is only a safety net should that be lost.
// Background verification changes no condition; foreground work says it waits
// for its account's budget (RateLimited) when the wait is long enough to notice.
func rateLimited(key budget.Key, class budget.Class, wait time.Duration) error {
	// The message stays the same while the object waits, so that waiting writes
	// no status again and again; eks_access_operator_budget_waiting counts the
	// objects in each account's line.
	return &outcome{kind: kindDefer, reason: v1.ReasonRateLimited,
		message: fmt.Sprintf("waiting for the operator's budget of EKS calls for account %s in %s (--eks-qps); objects of other accounts do not wait for it",
			key.Account, key.Region),
		after: wait + 30*time.Second, quiet: class == budget.Background || wait < rateLimitedAfter}
}

// skipFor ends the pass of an object that needs no EKS call until after.
func skipFor(after time.Duration) error {
	return &outcome{kind: kindDefer, after: after, quiet: true}
}

// overBudget turns a call the account's budget had no token for, met in the
// middle of a pass (which needed more calls than it reserved), into a place in
// the scheduler's queue. A verification pass that stops short changes no
// condition.
func (r *AccessEntryReconciler) overBudget(p *entryPass, err error) error {
	key, over := awsapi.OverBudget(err)
	if !over {
		return err
	}
	// As many tokens as the whole pass needs: the calls it made (its reads are
	// made again), the one it could not make, and one more.
	g, err := r.take(p, key, max(r.estimate(p), p.slot.Used+2))
	if g != nil {
		g.Release() // there again already
		return &outcome{kind: kindDefer, after: 100 * time.Millisecond, quiet: true}
	}
	return err
}
