package controllers

import (
	"cmp"
	"context"
	"k8s.io/apimachinery/pkg/types"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
)

// reservedToTenants is what a tenant reads when its principal is reserved: it
// says what to fix, not which of the platform's reasons applies (that the
// platform declares the principal, say), which goes to the operator's log.
const reservedToTenants = "the platform team protects it, declares it, or EKS made an entry for it"

// claims finds the platform's claims on a principal: its config's protected
// and EKS-made entries, and the AccessEntries of trusted namespaces. The
// AccessEntry controller judges a tenant's object by them, the AccessRequest
// controller a request's grant.
type claims struct {
	reader        client.Reader
	trusted       []string
	defaultRegion string
}

func (r *AccessEntryReconciler) claims() claims {
	return claims{reader: r.Client, trusted: r.TrustedNamespaces, defaultRegion: r.DefaultRegion}
}

// reservedFor says why a principal is the platform's and no tenant's to name,
// whatever a rule allows: spec.unmanagedEntries.protect names it, an AccessEntry
// in a trusted namespace declares it on the same cluster, or EKS made an entry
// for it (a service-linked role, or a node entry the config's pruning report
// lists). "" when none of these holds. Claims are then decided by rule, not by
// who applied first: a tenant that names the platform's break-glass role or a
// node role before their owners do is refused, and what it holds is revoked.
func (r claims) reservedFor(ctx context.Context, ae *v1.AccessEntry, cac *v1.ClusterAccessConfig) (string, error) {
	principal := ae.Principal()
	switch {
	case guardrails.Protected(cac.Spec.UnmanagedEntries.Protect, principal):
		return "spec.unmanagedEntries.protect of ClusterAccessConfig " + cac.Name + " names it", nil
	case strings.Contains(principal, ":role/aws-service-role/"):
		return "it is a service-linked role, for which only EKS makes entries", nil
	}
	for _, u := range cac.Status.UnmanagedEntries {
		// A node entry in another letter case than an entry the object holds
		// came after it (EKS would have refused the same spelling): someone
		// with eks:CreateAccessEntry, not EKS's nodes, and it takes nothing
		// away from the object.
		if strings.EqualFold(u.PrincipalARN, principal) && u.Type != "" && u.Type != string(v1.TypeStandard) &&
			(u.PrincipalARN == principal || !holdsOwn(ae)) {
			return "EKS holds a " + u.Type + " entry for it, which EKS makes for nodes", nil
		}
	}
	declarers, err := r.trustedDeclarers(ctx, ae)
	if err != nil || len(declarers) == 0 {
		return "", err
	}
	return "AccessEntry " + declarers[0].String() + " in a trusted namespace declares it", nil
}

// holdsOwn reports whether the object's status records an entry of the
// principal its spec names, as spelled there.
func holdsOwn(ae *v1.AccessEntry) bool {
	id := ae.Status.Identity
	return ae.Status.AccessEntryARN != "" && id != nil && id.PrincipalARN == ae.Principal() && id.ClusterName == ae.Spec.ClusterName
}

// trustedDeclarers are the AccessEntries in trusted namespaces that name the
// object's principal on its cluster and region (other than the object itself).
func (r claims) trustedDeclarers(ctx context.Context, ae *v1.AccessEntry) ([]client.ObjectKey, error) {
	return r.rivals(ctx, ae, func(o *v1.AccessEntry) bool { return guardrails.Trusted(o.Namespace, r.trusted) })
}

// rivals are the other AccessEntries naming the object's principal on its
// cluster and region, not being deleted, that keep says to count.
func (r claims) rivals(ctx context.Context, ae *v1.AccessEntry, keep func(*v1.AccessEntry) bool) ([]client.ObjectKey, error) {
	list := &v1.AccessEntryList{}
	if err := r.reader.List(ctx, list, client.MatchingFields{principalField: principalKey(ae.Spec.ClusterName, ae.Principal())},
		client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	if set := permissionSetOf(ae); set != "" {
		// Objects naming the same permission set claim whatever role it
		// resolves to, before their status records it (a set just provisioned
		// again).
		same := &v1.AccessEntryList{}
		if err := r.reader.List(ctx, same, client.MatchingFields{permissionSetField: permissionSetKey(ae.Spec.ClusterName, set)}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		list.Items = append(list.Items, same.Items...)
	}
	region := r.regionOf(ae)
	var out []client.ObjectKey
	seen := map[types.UID]bool{ae.UID: true}
	for i := range list.Items {
		o := &list.Items[i]
		if !seen[o.UID] && o.DeletionTimestamp.IsZero() && r.regionOf(o) == region && keep(o) {
			out = append(out, client.ObjectKeyFromObject(o))
		}
		seen[o.UID] = true
	}
	return out, nil
}

// regionOf is the region an AccessEntry's cluster is in.
func (r claims) regionOf(ae *v1.AccessEntry) string {
	return cmp.Or(ae.Spec.Region, r.defaultRegion)
}

// regionOf is the region an AccessEntry's cluster is in.
func (r *AccessEntryReconciler) regionOf(ae *v1.AccessEntry) string {
	return r.claims().regionOf(ae)
}

// tenantRivals maps a change of an AccessEntry in a trusted namespace to the
// tenant objects naming the same principal: the platform's claim takes
// precedence, so they are judged again at once (and what they hold revoked),
// rather than leaving the platform's object in Conflict until a recheck.
func (r *AccessEntryReconciler) tenantRivals(ctx context.Context, o client.Object) []reconcile.Request {
	ae, ok := o.(*v1.AccessEntry)
	if !ok || !guardrails.Trusted(ae.Namespace, r.TrustedNamespaces) {
		return nil
	}
	keys, err := r.claims().rivals(ctx, ae, func(o *v1.AccessEntry) bool { return !guardrails.Trusted(o.Namespace, r.TrustedNamespaces) })
	if err != nil {
		return nil
	}
	return requestsOf(keys)
}

// wakeDeclarers puts the trusted objects declaring a principal back in the
// queue once a tenant object has let go of its entry, so that the platform's
// object creates it now rather than at its next recheck.
func (r *AccessEntryReconciler) wakeDeclarers(ctx context.Context, ae *v1.AccessEntry) {
	keys, err := r.claims().trustedDeclarers(ctx, ae)
	if err != nil {
		return
	}
	for _, req := range requestsOf(keys) {
		r.queue.add(req)
	}
}

func requestsOf(keys []client.ObjectKey) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(keys))
	for _, k := range keys {
		out = append(out, reconcile.Request{NamespacedName: k})
	}
	return out
}
