package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// An AccessEntry may name its principal by IAM Identity Center permission set
// (spec.identityCenter): the role Identity Center provisioned for the set in
// the account is found in IAM, recorded in status.identityCenter, and is the
// principal of the entry. The set is looked up again on the principal check's
// schedule (--principal-check-interval): a set provisioned again is a new role,
// and the entry moves to it; a set no longer assigned leaves no entry behind.

// resolvePermissionSet makes the role of spec.identityCenter's permission set
// the principal of the pass's identity: the one status records while it is not
// due a lookup, else the one IAM lists now. When IAM lists none, the object
// waits (PermissionSetNotAssigned), and an entry of a role IAM no longer holds
// is deleted; two roles stall it (PermissionSetAmbiguous).
func (r *AccessEntryReconciler) resolvePermissionSet(ctx context.Context, p *entryPass) error {
	ic := p.ae.Spec.IdentityCenter
	if ic == nil {
		return nil
	}
	account := cmp.Or(ic.Account, p.id.Account)
	rec := p.ae.Status.IdentityCenter
	if rec != nil && (rec.PermissionSet != ic.PermissionSet || rec.Account != account) {
		rec = nil // resolved for another set or account: not this one's
	}
	if out, err := r.setOutOfReach(ctx, p, account); out || err != nil {
		// Refused by the guardrails next, holding nothing: IAM is not asked.
		p.ae.Status.IdentityCenter = nil
		return err
	}
	if rec != nil && !r.permissionSetDue(p.ae, rec) {
		p.id.PrincipalARN = rec.RoleARN
		return nil
	}
	roles, err := r.listPermissionSet(ctx, p, account)
	if err != nil {
		if rec != nil {
			// Looked up again soon; meanwhile the role found last stands.
			ctrl.LoggerFrom(ctx).V(1).Info("permission set not looked up", "permissionSet", ic.PermissionSet, "reason", err.Error())
			p.id.PrincipalARN = rec.RoleARN
			return nil
		}
		return err
	}
	switch len(roles) {
	case 0:
		return r.permissionSetUnassigned(ctx, p, account)
	case 1:
		r.resolvedTo(p, account, roles[0], rec)
		return nil
	}
	arns := make([]string, len(roles))
	for i, role := range roles {
		arns[i] = role.ARN
	}
	return stall(v1.ReasonPermissionSetAmbiguous, r.PrincipalCheckInterval,
		"IAM holds %d roles for permission set %s in account %s: %s. Identity Center keeps one per set and account; delete the roles it no longer uses (the operator checks again every %s), or name the role in spec.principalARN",
		len(roles), ic.PermissionSet, account, strings.Join(arns, ", "), r.PrincipalCheckInterval)
}

// setOutOfReach says whether a tenant object names a permission set no rule of
// its cluster could allow, whatever role IAM holds for it (the role the set
// would resolve to is tried in both of Identity Center's path forms): such a
// set is not looked up, so that a namespace learns nothing from IAM (whether
// the set is assigned to the account, its role) about a set it may not name.
// The guardrails then refuse the object, and revoke what it held.
func (r *AccessEntryReconciler) setOutOfReach(ctx context.Context, p *entryPass, account string) (bool, error) {
	if guardrails.Trusted(p.ae.Namespace, r.TrustedNamespaces) {
		return false, nil
	}
	if p.cac == nil {
		return true, nil
	}
	view, err := r.tenantViewOf(ctx, p)
	if err != nil {
		return false, err
	}
	req := guardrails.RequestFor(p.ae, view.labels)
	set := p.ae.Spec.IdentityCenter.PermissionSet
	for _, path := range []string{awsapi.SSORolePath, awsapi.SSORolePath + p.id.Region + "/"} {
		req.Principal = fmt.Sprintf("arn:%s:iam::%s:role%sAWSReservedSSO_%s_0123456789abcdef", p.id.Partition, account, path, set)
		if guardrails.MayName(view.cfg, req) {
			return false, nil
		}
	}
	return true, nil
}

// permissionSetDue says whether the set status resolved is due a lookup: on the
// principal check's schedule, or, with that check off, once an interval after
// the last lookup.
func (r *AccessEntryReconciler) permissionSetDue(ae *v1.AccessEntry, rec *v1.ResolvedPermissionSet) bool {
	if r.Principals != nil {
		return r.principalCheckDue(ae)
	}
	return rec.ResolvedAt == nil || time.Since(rec.ResolvedAt.Time) >= r.PrincipalCheckInterval
}

// listPermissionSet lists the roles of spec.identityCenter's set in account,
// through a target acting in that account, and sets the object's next lookup an
// interval away.
func (r *AccessEntryReconciler) listPermissionSet(ctx context.Context, p *entryPass, account string) ([]awsapi.Role, error) {
	set := p.ae.Spec.IdentityCenter.PermissionSet
	if r.PermissionSets == nil {
		return nil, stall(v1.ReasonPermissionSetUnresolved, 0, "the operator was started without IAM lookups, so it cannot find the role of permission set %s: name the role in spec.principalARN", set)
	}
	t, err := r.targetInAccount(ctx, p, account)
	if err != nil {
		return nil, err
	}
	roles, err := r.PermissionSets.PermissionSetRoles(ctx, t, account, set)
	switch {
	case errors.Is(err, awsapi.ErrIAMBusy):
		return nil, retryAfter(v1.ReasonPermissionSetUnresolved, jitter(iamBusyRetry, 1), "waiting for the IAM rate to list the roles of permission set %s in account %s", set, account)
	case err != nil:
		return nil, retryAfter(v1.ReasonPermissionSetUnresolved, r.RecheckInterval,
			"the roles of account %s cannot be listed through %s to find permission set %s (%s); the operator needs iam:ListRoles there", account, describeTarget(t), set, err.Error())
	}
	r.nextPrincipalCheck.Store(p.ae.UID, time.Now().Add(r.PrincipalCheckInterval))
	return roles, nil
}

// targetInAccount is how to read IAM in account: the pass's own target when
// its cluster is there, else the role of a ClusterAccessConfig whose cluster
// is in that account, else the operator's own credentials when they act there.
func (r *AccessEntryReconciler) targetInAccount(ctx context.Context, p *entryPass, account string) (awsapi.Target, error) {
	if account == p.id.Account {
		return p.target, nil
	}
	list := &v1.ClusterAccessConfigList{}
	if err := r.List(ctx, list); err != nil {
		return awsapi.Target{}, err
	}
	for _, c := range list.Items {
		if c.Status.AccountID == account && c.DeletionTimestamp.IsZero() {
			return target(cmp.Or(c.Spec.Region, p.id.Region), &c), nil
		}
	}
	own := awsapi.Target{Region: p.id.Region}
	if self, _, err := r.AWS.Account(ctx, own); err == nil && self == account {
		return own, nil
	}
	return awsapi.Target{}, stall(v1.ReasonPermissionSetUnresolved, r.RecheckInterval,
		"spec.identityCenter.account %s is neither the cluster's account (%s) nor one the operator reaches (no ClusterAccessConfig has a cluster there, and its own credentials act in another): "+
			"add a ClusterAccessConfig for a cluster in account %s, or name the role in spec.principalARN", account, p.id.Account, account)
}

// resolvedTo makes role the pass's principal and records it; a role other than
// the one status recorded for the same set means the set was provisioned again.
func (r *AccessEntryReconciler) resolvedTo(p *entryPass, account string, role awsapi.Role, rec *v1.ResolvedPermissionSet) {
	set := p.ae.Spec.IdentityCenter.PermissionSet
	if rec != nil && rec.RoleARN != role.ARN {
		p.event(corev1.EventTypeNormal, "PermissionSetReprovisioned",
			"permission set %s in account %s is now role %s (was %s): moving the EKS access entry to it", set, account, role.ARN, rec.RoleARN)
	}
	p.id.PrincipalARN = role.ARN
	p.principal = &principalLookup{id: role.ID, created: role.Created}
	p.ae.Status.IdentityCenter = &v1.ResolvedPermissionSet{PermissionSet: set, Account: account, RoleARN: role.ARN, RoleID: role.ID, ResolvedAt: metaTime(time.Now())}
}

// permissionSetUnassigned ends the pass of an object whose set IAM lists no
// role for: the object waits, looked at again on the principal check's
// schedule. An entry status records for a role of the set is deleted once IAM
// confirms the role is gone (a listing may lag behind a role just made): it is
// bound to a role that no longer exists, and grants nothing.
func (r *AccessEntryReconciler) permissionSetUnassigned(ctx context.Context, p *entryPass, account string) error {
	set := p.ae.Spec.IdentityCenter.PermissionSet
	wait := retryAfter(v1.ReasonPermissionSetNotAssigned, r.RecheckInterval,
		"IAM holds no role for permission set %s in account %s (AWSReservedSSO_%s_* under %s): the set is not assigned to that account, or its assignment is being provisioned. "+
			"Assign the permission set to the account in IAM Identity Center; the operator checks again every %s", set, account, set, awsapi.SSORolePath, r.RecheckInterval)
	old := p.ae.Status.Identity
	switch {
	case old == nil:
		p.ae.Status.IdentityCenter = nil
		return wait
	case !awsapi.IsPermissionSetRole(old.PrincipalARN, set):
		// The spec moved away from the principal whose entry the object holds:
		// that entry goes now, as on any identity change (Retain honoured).
		p.ae.Status.IdentityCenter = nil
		p.id.PrincipalARN = ""
		if err := r.retireOldIdentity(ctx, p); err != nil {
			return err
		}
		return wait
	}
	t, err := r.recordedTarget(ctx, p, *old)
	if err != nil {
		return err
	}
	if r.Principals != nil {
		if _, _, err := r.Principals.PrincipalID(ctx, t, old.PrincipalARN); !errors.Is(err, awsapi.ErrNoSuchPrincipal) {
			// Not known gone (the listing lags, or IAM cannot tell): the
			// entry stays on it until a later lookup.
			p.id.PrincipalARN = old.PrincipalARN
			return nil
		}
	}
	p.ae.Status.IdentityCenter = nil
	removal, err := r.remove(ctx, p, entryAt{id: *old, target: t}, false)
	if err != nil {
		return err
	}
	if removal == plan.RemovalWait {
		return waitFor(v1.ReasonWaitingForEKS, "the EKS access entry of %s is not visible yet, so it cannot be deleted yet", old.PrincipalARN)
	}
	p.event(corev1.EventTypeWarning, "PermissionSetUnassigned", "IAM no longer holds %s, the role of permission set %s: deleted its EKS access entry in %s", old.PrincipalARN, set, where(*old, t))
	if err := r.resetStatus(ctx, p, false); err != nil {
		return err
	}
	return wait
}

// yieldToSetHolder keeps an object from taking the role of a permission set
// another object holds an entry for: of the objects naming a set (by
// spec.identityCenter, or one of its roles by ARN), the one that holds its
// role keeps it, also after Identity Center provisions the set again and
// before that object has moved to the new role. An object holding none of the
// set's roles, in the account it resolves in, is in Conflict while another
// does. A trusted object yields only to a trusted holder: the platform's claim
// comes first, and tenants naming its set are refused as reserved.
func (r *AccessEntryReconciler) yieldToSetHolder(ctx context.Context, p *entryPass) error {
	set := permissionSetOf(p.ae)
	account, ok := awsarn.AccountOf(p.id.PrincipalARN)
	if set == "" || !ok || holdsSetRole(p.ae, set, p.id.ClusterName, account) {
		return nil
	}
	trusted := guardrails.Trusted(p.ae.Namespace, r.TrustedNamespaces)
	holders, err := r.claims().rivals(ctx, p.ae, func(o *v1.AccessEntry) bool {
		return holdsSetRole(o, set, p.id.ClusterName, account) && (!trusted || guardrails.Trusted(o.Namespace, r.TrustedNamespaces))
	})
	if err != nil || len(holders) == 0 {
		return err
	}
	if trusted {
		return stall(v1.ReasonConflict, r.RecheckInterval, "AccessEntry %s manages the role of permission set %s in cluster %s; only one object may manage a principal. Fix: delete one of the two objects",
			holders[0], set, p.id.ClusterName)
	}
	ctrl.LoggerFrom(ctx).Info("a tenant object names a permission set another AccessEntry manages", "permissionSet", set, "managedBy", holders[0].String())
	return stall(v1.ReasonConflict, r.RecheckInterval, "the role of permission set %s in cluster %s is managed by another AccessEntry; only one object may manage a principal. "+
		"Fix: name another principal, or ask the platform team", set, p.id.ClusterName)
}

// holdsSetRole reports whether the object's status records an entry, in the
// cluster, of a role of the set in the account.
func holdsSetRole(o *v1.AccessEntry, set, cluster, account string) bool {
	id := o.Status.Identity
	if id == nil || o.Status.AccessEntryARN == "" || id.ClusterName != cluster || !awsapi.IsPermissionSetRole(id.PrincipalARN, set) {
		return false
	}
	a, _ := awsarn.AccountOf(id.PrincipalARN)
	return a == account
}
