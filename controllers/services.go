package controllers

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
)

// Deps are what every reconciler is handed: the manager's clients and recorder,
// and the AWS side (whose budget meters every account's calls). main.go builds
// them once; no reconciler builds or owns a service.
type Deps struct {
	// Client is the manager's client; reads come from its cache.
	client.Client
	// APIReader reads the API server directly (not the cache): every shard's
	// AccessEntries, to find which one records an entry, and for pruning.
	APIReader client.Reader
	Recorder  events.EventRecorder
	AWS       *awsapi.Clients
}

// Principals tells which IAM principal holds an ARN now.
type Principals interface {
	// PrincipalID returns the unique ID of the principal arn names and when IAM
	// created it, read with the target's credentials: awsapi.ErrNoSuchPrincipal,
	// ErrPrincipalUnknowable and ErrIAMBusy say why not.
	PrincipalID(ctx context.Context, t awsapi.Target, arn string) (id string, created time.Time, err error)
}

var _ Principals = (*awsapi.Clients)(nil)

// PermissionSets tells which roles IAM Identity Center provisioned for a
// permission set.
type PermissionSets interface {
	// PermissionSetRoles lists the roles of the set in account, read with the
	// target's credentials (which act in that account).
	PermissionSetRoles(ctx context.Context, t awsapi.Target, account, set string) ([]awsapi.Role, error)
}

var _ PermissionSets = (*awsapi.Clients)(nil)

// Suspects are the AccessEntries a sweep found changed out of band: their next
// pass reads their entry in full, as foreground work, and puts it back. The
// sweeper marks them, the AccessEntry controller reads and clears them.
type Suspects struct {
	uids  sync.Map
	seq   atomic.Uint64
	queue queueRef
}

// NewSuspects returns an empty set.
func NewSuspects() *Suspects { return &Suspects{} }

// suspicion is why and since when an object is suspect; seq tells one mark
// from the next.
type suspicion struct {
	at      time.Time
	byEvent bool
	seq     uint64
}

// Mark makes an object suspect and queues it.
func (s *Suspects) Mark(uid types.UID, key client.ObjectKey) { s.mark(uid, key, false) }

// MarkByEvent makes an object suspect because an event named its entry.
func (s *Suspects) MarkByEvent(uid types.UID, key client.ObjectKey) { s.mark(uid, key, true) }

// mark records a new suspicion of the object, keeping since when it has been
// suspect, and queues it. A mark made while a pass is under way outlives the
// pass (Settled), since that pass may have read the entry before the change.
func (s *Suspects) mark(uid types.UID, key client.ObjectKey, byEvent bool) {
	next := suspicion{at: time.Now(), byEvent: byEvent, seq: s.seq.Add(1)}
	for {
		old, loaded := s.uids.LoadOrStore(uid, next)
		if !loaded {
			break
		}
		o := old.(suspicion)
		if s.uids.CompareAndSwap(uid, old, suspicion{at: o.at, byEvent: o.byEvent || byEvent, seq: next.seq}) {
			break
		}
	}
	s.queue.addAs(reconcile.Request{NamespacedName: key}, prioritySuspect, 0)
}

// Seen is the object's suspicion as a pass starts, for Settled: nil when none.
func (s *Suspects) Seen(uid types.UID) any {
	v, _ := s.uids.Load(uid)
	return v
}

// Settled forgets an object whose entry was just read (or written) and matches
// its spec, if it was marked no later than seen (what Seen said before the
// read); the time from an event to here is the repair's. A later mark stays, and
// the next pass reads the entry again.
func (s *Suspects) Settled(uid types.UID, seen any) {
	if seen == nil {
		return
	}
	if s.uids.CompareAndDelete(uid, seen) && seen.(suspicion).byEvent {
		eventRepair.Observe(time.Since(seen.(suspicion).at).Seconds())
	}
}

// Clear forgets an object: healed, verified or gone.
func (s *Suspects) Clear(uid types.UID) { s.uids.Delete(uid) }

// Has says whether an object is suspect.
func (s *Suspects) Has(uid types.UID) bool {
	_, ok := s.uids.Load(uid)
	return ok
}

// clusterNameField indexes AccessEntries by spec.clusterName, to find those a
// ClusterAccessConfig governs.
const clusterNameField = "spec.clusterName"

// principalField indexes AccessEntries by cluster and principal, to find the
// objects that name the same principal as another: spec.principalARN, or the
// role status records for spec.identityCenter's permission set.
const principalField = "spec.clusterName+principalARN"

// principalKey is an AccessEntry's value in the principalField index. IAM
// names are case-insensitive: role/Admin and role/admin are one role, so they
// are one key.
func principalKey(cluster, principal string) string {
	return cluster + " " + strings.ToLower(principal)
}

// permissionSetField indexes AccessEntries by cluster and the IAM Identity
// Center permission set their principal belongs to (permissionSetOf), to find
// the objects that claim a set's role whatever role their status records.
const permissionSetField = "spec.clusterName+permissionSet"

// permissionSetKey is an AccessEntry's value in the permissionSetField index.
func permissionSetKey(cluster, set string) string { return cluster + " " + set }

// permissionSetOf is the permission set an object's principal belongs to:
// spec.identityCenter's, or the one whose Identity Center role
// spec.principalARN names; "" for any other principal. The account is left
// out: an object naming a set claims it in every account, which errs toward
// refusing.
func permissionSetOf(ae *v1.AccessEntry) string {
	if ic := ae.Spec.IdentityCenter; ic != nil {
		return ic.PermissionSet
	}
	set, _ := awsapi.PermissionSetOfRole(ae.Spec.PrincipalARN)
	return set
}

// retainedField indexes AccessEntries by the entries they retained, as
// retainedKey names them, to find a retained entry of a principal spelled in
// another letter case.
const retainedField = "status.retainedEntries"

// approvalRequestIndex indexes AccessApprovals by the request they name.
const approvalRequestIndex = "spec.request"

// retainedKey names an entry by its region, cluster, and its principal's
// account, kind and name (IAM names are unique in an account whatever the
// path, and case-insensitive), as an entry ARN spells them:
// arn:PARTITION:eks:REGION:ACCOUNT:access-entry/CLUSTER/KIND/ACCOUNT/NAME/ID.
// "" for anything else.
func retainedKey(entryARN string) string {
	key, _ := retainedKeyAndName(entryARN)
	return key
}

// retainedKeyAndName is retainedKey and the principal's name as the entry's
// ARN spells it (letter case kept), or "" for both when it is no entry's ARN.
func retainedKeyAndName(entryARN string) (key, name string) {
	a, err := arn.Parse(entryARN)
	parts := strings.Split(a.Resource, "/")
	if err != nil || len(parts) != 6 || parts[0] != "access-entry" {
		return "", ""
	}
	return strings.ToLower(strings.Join([]string{a.Region, parts[1], parts[2], parts[3], parts[4]}, " ")), parts[4]
}

// retainedKeyOf is retainedKey for the entry of a principal in a cluster.
func retainedKeyOf(id v1.EntryIdentity) string {
	p, ok := awsarn.ParsePrincipal(id.PrincipalARN)
	if !ok {
		return ""
	}
	return strings.ToLower(strings.Join([]string{id.Region, id.ClusterName, p.Kind, p.Account, p.Name}, " "))
}

// retainedKeys are an AccessEntry's values in the retainedField index.
func retainedKeys(o client.Object) []string {
	var keys []string
	for _, e := range o.(*v1.AccessEntry).Status.RetainedEntries {
		if k := retainedKey(e.ARN); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// IndexFields registers the cache indexes both controllers and the sweeper
// read; main.go calls it once a manager.
func IndexFields(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1.AccessEntry{}, clusterNameField, func(o client.Object) []string {
		return []string{o.(*v1.AccessEntry).Spec.ClusterName}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1.AccessEntry{}, retainedField, retainedKeys); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1.AccessApproval{}, approvalRequestIndex, func(o client.Object) []string {
		return []string{o.(*v1.AccessApproval).Spec.Request}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1.AccessEntry{}, permissionSetField, func(o client.Object) []string {
		ae := o.(*v1.AccessEntry)
		if set := permissionSetOf(ae); set != "" {
			return []string{permissionSetKey(ae.Spec.ClusterName, set)}
		}
		return nil
	}); err != nil {
		return err
	}
	return idx.IndexField(ctx, &v1.AccessEntry{}, principalField, func(o client.Object) []string {
		ae := o.(*v1.AccessEntry)
		if ae.Principal() == "" {
			return nil // a permission set not resolved yet
		}
		return []string{principalKey(ae.Spec.ClusterName, ae.Principal())}
	})
}
