// Package requests decides what becomes of an AccessRequest: the approvals that
// count under its time-bound rule, a denial, a grant, or its expiry. It is pure:
// the controller gathers the request, its rule and the AccessApprovals, and acts
// on the decision.
package requests

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// Approval is an AccessApproval as the API server admitted it: its approver and
// groups are the ones it authenticated (the request-identity policy), and At is
// its creation time.
type Approval struct {
	Name       string
	RequestUID string
	Decision   v1.DecisionKind
	Approver   string
	Groups     []string
	At         time.Time
}

// Decision is what becomes of a request now.
type Decision struct {
	Phase v1.RequestPhase
	// Counted are the approvals that count, oldest first.
	Counted []v1.Decision
	// Ignored say which approvals did not count and why, for the request's
	// events; a person who may not approve learns it there.
	Ignored []string
	// Message says where the request stands, for its Ready condition.
	Message string
	// BreakGlass: granted with no approval, by a requester the rule lets.
	BreakGlass bool
	// Recheck is when the decision changes by itself (the request's pending
	// window ends); zero when it does not.
	Recheck time.Time
}

// Decide holds a pending request to its rule, rule being its name and tb its
// time-bound part. requesterGroups are the groups admission checked the
// requester is in.
func Decide(r *v1.AccessRequest, rule string, tb *v1.TimeBoundGrants, approvals []Approval, now time.Time) Decision {
	if max := tb.MaxDuration.Duration; r.Spec.Duration.Duration > max {
		return Decision{Phase: v1.RequestRefused, Message: fmt.Sprintf("spec.duration %s is longer than rule %s allows (timeBound.maxDuration %s): ask for %s or less",
			r.Spec.Duration.Duration, rule, max, max)}
	}
	if breaksGlass(tb.BreakGlass, r.Spec.Requester, r.Spec.RequesterGroups) {
		return Decision{Phase: v1.RequestGranted, BreakGlass: true,
			Message: fmt.Sprintf("granted with no approval: %s may break glass under rule %s (timeBound.breakGlass)", r.Spec.Requester, rule)}
	}
	deadline := r.CreationTimestamp.Add(pendingFor(tb))
	d := Decision{}
	seen := map[string]bool{}
	for _, a := range oldestFirst(approvals) {
		why := notCounted(r, tb, a, deadline)
		if why != "" {
			d.Ignored = append(d.Ignored, fmt.Sprintf("AccessApproval %s by %s does not count: %s", a.Name, a.Approver, why))
			continue
		}
		if a.Decision == v1.Deny {
			return Decision{Phase: v1.RequestDenied, Counted: []v1.Decision{decision(a)}, Ignored: d.Ignored,
				Message: fmt.Sprintf("denied by %s (AccessApproval %s)", a.Approver, a.Name)}
		}
		if !seen[a.Approver] {
			seen[a.Approver] = true
			d.Counted = append(d.Counted, decision(a))
		}
	}
	need := int(max(tb.Approvals, 1))
	switch {
	case len(d.Counted) >= need:
		d.Phase, d.Message = v1.RequestGranted, fmt.Sprintf("approved by %s", approvers(d.Counted))
	case !now.Before(deadline):
		d.Phase, d.Message = v1.RequestExpired, fmt.Sprintf("expired unapproved: %d of %d approvals within %s (rule %s, timeBound.pendingFor)",
			len(d.Counted), need, pendingFor(tb), rule)
	default:
		d.Phase, d.Recheck = v1.RequestPending, deadline
		d.Message = fmt.Sprintf("waiting for approval: %d of %d, from %s, until %s", len(d.Counted), need, describe(tb.Approvers), deadline.UTC().Format(time.RFC3339))
	}
	return d
}

// DeniedWhileGranted is the denial that ends a granted request: one that would
// have counted before the grant (made for this request, not by its requester,
// by an approver the rule names), made at any time until the grant expires.
// The grant is then revoked. ok is false when there is none.
func DeniedWhileGranted(r *v1.AccessRequest, tb *v1.TimeBoundGrants, approvals []Approval) (d Decision, ok bool) {
	if r.Status.ExpiresAt == nil {
		return Decision{}, false
	}
	end := r.Status.ExpiresAt.Time
	for _, a := range oldestFirst(approvals) {
		if a.Decision == v1.Deny && notCounted(r, tb, a, end) == "" {
			return Decision{Phase: v1.RequestDenied, Counted: append(slices.Clone(r.Status.Approvals), decision(a)),
				Message: fmt.Sprintf("denied by %s after the grant (AccessApproval %s): the grant is revoked", a.Approver, a.Name)}, true
		}
	}
	return Decision{}, false
}

// oldestFirst is a copy of the approvals in the order they were made.
func oldestFirst(approvals []Approval) []Approval {
	sorted := slices.Clone(approvals)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].At.Before(sorted[j].At) })
	return sorted
}

// notCounted says why an approval does not count for the request; "" when it does.
func notCounted(r *v1.AccessRequest, tb *v1.TimeBoundGrants, a Approval, deadline time.Time) string {
	switch {
	case a.RequestUID != string(r.UID):
		return "it was made for another request of the same name (spec.requestUID)"
	case a.At.Before(r.CreationTimestamp.Time):
		return "it is older than the request"
	case !a.At.Before(deadline):
		return "it came after the request expired"
	case a.Approver == r.Spec.Requester:
		return "nobody approves their own request"
	case !names(tb.Approvers, a.Approver, a.Groups):
		return fmt.Sprintf("the rule's approvers are %s", describe(tb.Approvers))
	}
	return ""
}

// names reports whether the approvers name a user, or one of the groups.
func names(who v1.Approvers, user string, groups []string) bool {
	return slices.Contains(who.Users, user) || slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(who.Groups, g) })
}

func breaksGlass(who *v1.Approvers, user string, groups []string) bool {
	return who != nil && names(*who, user, groups)
}

func pendingFor(tb *v1.TimeBoundGrants) time.Duration {
	if tb.PendingFor == nil || tb.PendingFor.Duration <= 0 {
		return 24 * time.Hour
	}
	return tb.PendingFor.Duration
}

func decision(a Approval) v1.Decision {
	return v1.Decision{Approval: a.Name, Approver: a.Approver, At: metav1.NewTime(a.At)}
}

func approvers(ds []v1.Decision) string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Approver
	}
	return strings.Join(out, ", ")
}

func describe(who v1.Approvers) string {
	var parts []string
	if len(who.Users) > 0 {
		parts = append(parts, "users "+strings.Join(who.Users, ", "))
	}
	if len(who.Groups) > 0 {
		parts = append(parts, "groups "+strings.Join(who.Groups, ", "))
	}
	return strings.Join(parts, "; ")
}
