package guardrails

import (
	"maps"
	"slices"
	"strings"
	"time"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/accesspolicy"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// Actions pruning reports for an unmanaged entry (ClusterAccessConfig status).
const (
	PruneKept        = "Kept"
	PruneProtected   = "Protected"
	PruneWouldDelete = "WouldDelete"
	PruneDelete      = "Deleted"
)

// peoplePolicies are the access policies EKS offers for people: the ones a
// platform team associates by hand. Every other policy in the catalogue is one
// EKS associates for its own components (EKS Auto Mode, EKS Capabilities, the
// service-linked role, HyperPod, hybrid nodes), or one a component's setup asks
// for; an entry carrying one is taken as made for that component.
var peoplePolicies = []string{
	"AmazonEKSClusterAdminPolicy",
	"AmazonEKSAdminPolicy",
	"AmazonEKSEditPolicy",
	"AmazonEKSViewPolicy",
	"AmazonEKSAdminViewPolicy",
}

// reservedUsernames are the username prefixes EKS refuses on the entries people
// create: an entry with one was made by EKS.
var reservedUsernames = []string{"system:", "eks:", "aws:", "amazon:", "iam:"}

// MadeByEKS says what shows that EKS made an entry itself, or may have made it
// for something that stops working without it; "" when nothing does. EKS marks
// its entries in no field (EKS-API.md), so this reads the signs it leaves: a node
// type, a service-linked role, a username only EKS may give, a policy EKS
// associates for its components, and the creator's cluster-admin entry made with
// the cluster. o.Policies must have been listed for the last two to show.
func MadeByEKS(principal string, o plan.Observed, clusterCreated time.Time) string {
	if o.Type != "" && o.Type != string(v1.TypeStandard) {
		return "its type is " + o.Type + ": EKS makes node entries for managed node groups, Fargate profiles and EKS Auto Mode, and nodes stop joining without them"
	}
	if strings.Contains(principal, ":role/aws-service-role/") {
		return "its principal is a service-linked role, for which only EKS makes entries"
	}
	for _, p := range reservedUsernames {
		if strings.HasPrefix(o.Username, p) {
			return "its username " + o.Username + " starts with " + p + ", which only EKS may give"
		}
	}
	for _, arn := range slices.Sorted(maps.Keys(o.Policies)) {
		if p, ok := awsarn.ParsePolicy(arn); ok && !slices.Contains(peoplePolicies, p.Name) {
			return "it carries " + p.Name + ", an access policy EKS associates for its own components (EKS Auto Mode, EKS Capabilities and the like)"
		}
	}
	if MadeForCreator(o, clusterCreated) {
		return CreatorEntry
	}
	return ""
}

// MadeByEKSHoldingAdmin is MadeByEKS for a judgement of who holds admin access
// (the access report, the admin holders gauge): an entry holding an
// admin-equivalent policy is taken for EKS's only by signs nobody else can give
// it (its type, a service-linked role, a username only EKS may give) or as the
// creator's entry. A component's policy beside the admin one proves nothing:
// anyone who may associate policies can add one, and so can EKS's own entries
// be given more by hand. Pruning keeps the looser MadeByEKS, which errs toward
// keeping an entry.
func MadeByEKSHoldingAdmin(principal string, o plan.Observed, clusterCreated time.Time) string {
	why := MadeByEKS(principal, o, clusterCreated)
	if why == "" || why == CreatorEntry || !slices.ContainsFunc(slices.Collect(maps.Keys(o.Policies)), accesspolicy.IsAdminEquivalentARN) {
		return why
	}
	o.Policies = nil
	return MadeByEKS(principal, o, time.Time{})
}

// CreatorEntry is what MadeByEKS says of an entry that looks like the one EKS
// made for the cluster's creator. EKS makes one: when several look like it, the
// others were made by hand soon after the cluster.
const CreatorEntry = "it is the cluster-admin entry EKS made for the cluster's creator along with the cluster"

// PruneInput is what pruning knows about one entry no AccessEntry declares.
type PruneInput struct {
	PrincipalARN string
	Observed     plan.Observed
	// Owned: the entry carries the ownership tags of an operator.
	Owned bool
}

// DecidePrune says what pruning does with an entry no AccessEntry declares, and
// why when it keeps one Delete would otherwise remove: unmanaged entries are kept
// under Keep; under Delete, an operator's own entries, protected principals and
// entries EKS made (unless deleteAlso lists them) are Protected, and the rest are
// deleted (WouldDelete in a dry run).
func DecidePrune(u v1.UnmanagedEntries, in PruneInput, clusterCreated time.Time) (action, reason string) {
	if u.Policy != v1.UnmanagedDelete {
		return PruneKept, ""
	}
	if in.Owned {
		return PruneProtected, "it carries the ownership tags of an eks-access-operator, which removes it itself"
	}
	if i := slices.IndexFunc(u.Protect, func(p string) bool { return Glob(p, in.PrincipalARN) }); i >= 0 {
		return PruneProtected, "spec.unmanagedEntries.protect names it (" + u.Protect[i] + ")"
	}
	if why := MadeByEKS(in.PrincipalARN, in.Observed, clusterCreated); why != "" && !deleteAlso(u.DeleteAlso, in.PrincipalARN, in.Observed.Type) {
		return PruneProtected, "EKS made it, or made it for its own components: " + why + "; list it in spec.unmanagedEntries.deleteAlso to delete it all the same"
	}
	if u.DryRun {
		return PruneWouldDelete, ""
	}
	return PruneDelete, ""
}

// deleteAlso reports whether a deleteAlso item names the entry: a principal
// pattern, or type:TYPE.
func deleteAlso(items []string, principal, typ string) bool {
	return slices.ContainsFunc(items, func(p string) bool {
		if t, ok := strings.CutPrefix(p, "type:"); ok {
			return t == typ
		}
		return Glob(p, principal)
	})
}
