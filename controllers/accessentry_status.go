package controllers

import (
	"context"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// patchStatus writes what the pass changed in status, against what the API server
// holds after the pass's intent patches (not the object as the pass began: a value
// reset by an intent patch and set again later would otherwise not be written).
func (r *AccessEntryReconciler) patchStatus(ctx context.Context, p *entryPass) error {
	if equality.Semantic.DeepEqual(p.base.Status, p.ae.Status) {
		return nil
	}
	return client.IgnoreNotFound(r.Status().Patch(ctx, p.ae, client.MergeFrom(p.base)))
}

// recordIntent patches status at once with what the operator is about to write to
// EKS, when that changes status: the patch at the end of the pass would come too
// late after a crash. Only the intent is written, not the rest of what the pass
// has changed so far; both the object and the patch base take it.
func (r *AccessEntryReconciler) recordIntent(ctx context.Context, p *entryPass, mutate func(*v1.AccessEntryStatus)) error {
	next := p.base.DeepCopy()
	mutate(&next.Status)
	mutate(&p.ae.Status)
	if equality.Semantic.DeepEqual(p.base.Status, next.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, next.DeepCopy(), client.MergeFrom(p.base)); err != nil {
		return err
	}
	p.base.Status = next.Status
	return nil
}

// resetStatus forgets, at once, everything status says of an entry that is gone
// (or left behind): after a crash the next pass must not take its values for the
// new entry's. The conditions written with it are the pass's own, so that an
// object whose entry is being replaced no longer reads Ready while it is. The
// entries the object retained stay recorded; with retain, so does the current one,
// with the tag keys the object wrote on it.
func (r *AccessEntryReconciler) resetStatus(ctx context.Context, p *entryPass, retain bool) error {
	st0 := p.ae.Status
	kept := slices.Clone(st0.RetainedEntries)
	if retain && st0.AccessEntryARN != "" {
		kept = slices.DeleteFunc(kept, func(e v1.RetainedEntry) bool { return e.ARN == st0.AccessEntryARN })
		kept = append(kept, v1.RetainedEntry{ARN: st0.AccessEntryARN, ManagedTags: slices.Clone(st0.ManagedTags)})
	}
	kept = kept[max(0, len(kept)-maxRetained):]
	return r.recordIntent(ctx, p, func(st *v1.AccessEntryStatus) { *st = cleared(st0, kept) })
}

// cleared is a status that records no entry: st's conditions and observed
// generation, the role its permission set resolved to, and the retained
// entries kept.
func cleared(st v1.AccessEntryStatus, kept []v1.RetainedEntry) v1.AccessEntryStatus {
	return v1.AccessEntryStatus{Conditions: slices.Clone(st.Conditions), ObservedGeneration: st.ObservedGeneration, RetainedEntries: slices.Clone(kept),
		IdentityCenter: st.IdentityCenter.DeepCopy()}
}

// maxRetained bounds status.retainedEntries: the oldest retained entries are
// forgotten first (and then need adopting, should the object move back to them).
const maxRetained = 16

// forgetIdentity clears the recorded identity at once: the entry it names is not
// ours, and must never be deleted on this object's behalf.
func (r *AccessEntryReconciler) forgetIdentity(ctx context.Context, p *entryPass) error {
	return r.recordIntent(ctx, p, func(st *v1.AccessEntryStatus) { st.Identity, st.IdentityRecordedAt, st.CreateSentAt = nil, nil, nil })
}

// progress marks the object Reconciling while the pass writes to EKS; the end of
// the pass replaces it.
func (p *entryPass) progress(reason, msg string) {
	accessEntryConditions(p.ae).reconciling(reason, msg)
}

// event queues an event for the end of the pass.
func (p *entryPass) event(eventType, reason, format string, args ...any) {
	p.events.add(eventType, reason, format, args...)
}

// recordEvents records the pass's events, and a Warning when Ready moved to a new
// failure reason (not for the reasons of plain progress).
func (r *AccessEntryReconciler) recordEvents(p *entryPass) {
	if now := readyCondition(p.ae); now != nil && now.Status == metav1.ConditionFalse &&
		p.readyBefore != string(now.Status)+"/"+now.Reason &&
		now.Reason != v1.ReasonProgressing && now.Reason != v1.ReasonWaitingForEKS && now.Reason != v1.ReasonDeleting {
		p.event(corev1.EventTypeWarning, now.Reason, "%s", now.Message)
	}
	p.events.record(r.Recorder, p.ae)
}

func readyCondition(ae *v1.AccessEntry) *metav1.Condition {
	return meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReady)
}

// reconcilingFor is how long the object has been Reconciling without a break.
func reconcilingFor(ae *v1.AccessEntry) time.Duration {
	if c := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReconciling); c != nil {
		return time.Since(c.LastTransitionTime.Time)
	}
	return 0
}

// stalledFor is how long the object has been Stalled at its generation; 0 when
// it is not.
func stalledFor(ae *v1.AccessEntry) time.Duration {
	c := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionStalled)
	if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != ae.Generation {
		return 0
	}
	return time.Since(c.LastTransitionTime.Time)
}

// maxBackoff bounds the wait between checks of something EKS has not shown yet.
const maxBackoff = 30 * time.Second

// backoff grows with the time already spent Reconciling: 1s at first, then a
// quarter of it, up to maxBackoff.
func (r *AccessEntryReconciler) backoff(ae *v1.AccessEntry) time.Duration {
	return min(max(time.Second, reconcilingFor(ae)/4), maxBackoff)
}

func jitter(d time.Duration, factor float64) time.Duration { return wait.Jitter(d, factor) }

// recordObserved writes what EKS holds into status.
func recordObserved(ae *v1.AccessEntry, obs *plan.Observed) {
	ae.Status.AccessEntryARN = obs.ARN
	ae.Status.Username = obs.Username
	ae.Status.KubernetesGroups = plan.Sorted(obs.Groups)
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

// metaTimeOrZero is the time of t; zero for nil.
func metaTimeOrZero(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func metaTime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &mt
}
