package plan

import (
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
)

// The decisions below are the ones a reader looks for when an object did something
// unexpected: why it refused to adopt, why it waited, why it left an entry behind.
// Each takes what was observed and what status recorded, and returns one value.

// Record is what status recorded of the object's entry: what proves an entry is
// the object's own.
type Record struct {
	// ARN of the entry a create answer or a read-back showed (status.accessEntryARN).
	// EKS gives every create a new ARN.
	ARN string
	// IntentAt is when status recorded the identity asked about, just before
	// creating its entry (status.identityRecordedAt); zero when status records
	// another identity or none.
	IntentAt time.Time
	// Retained are the ARNs of entries the object kept under deletionPolicy Retain
	// when it moved away from them (status.retainedEntries).
	Retained []string
}

// RecordOf is what status records of the entry of id.
func RecordOf(st *v1.AccessEntryStatus, id v1.EntryIdentity) Record {
	rec := Record{ARN: st.AccessEntryARN}
	for _, r := range st.RetainedEntries {
		rec.Retained = append(rec.Retained, r.ARN)
	}
	if st.Identity != nil && *st.Identity == id && st.IdentityRecordedAt != nil {
		rec.IntentAt = st.IdentityRecordedAt.Time
	}
	return rec
}

// clockSkew is how far EKS's clock may be behind the operator's when a create's
// time is compared with the intent recorded just before it (status keeps it to
// the second, which only moves it earlier). An operator whose clock runs further
// ahead does not recognize its own lost create, and reports Conflict: it never
// takes an entry it cannot prove.
const clockSkew = 10 * time.Second

// Owns reports whether an entry is the object's: the one whose ARN status records
// (or one it retained when it moved away), or one carrying the object's ownership
// tags that EKS created after status recorded the intent to create it (a create
// whose answer was lost in a crash). Tags alone prove nothing: anyone allowed
// eks:TagResource can write them.
func Owns(e Observed, rec Record, self ownership.Owner) bool {
	if e.ARN != "" && (e.ARN == rec.ARN || slices.Contains(rec.Retained, e.ARN)) {
		return true
	}
	owner, _ := ownership.Of(e.Tags)
	return owner == self && !rec.IntentAt.IsZero() && !e.CreatedAt.IsZero() && !e.CreatedAt.Before(rec.IntentAt.Add(-clockSkew))
}

// LostCreate reports whether an entry the object owns (Owns) is one it owns only
// through the recorded intent: made by a create whose answer was lost, neither the
// ARN status records nor one it retained.
func LostCreate(e Observed, rec Record) bool {
	return e.ARN != rec.ARN && !slices.Contains(rec.Retained, e.ARN)
}

// WrittenTagKeys are the keys of an entry's tags that a create by this operator
// wrote besides the ownership tags: all but those and AWS's own (aws:). They are
// the keys to manage on an entry the object's own create made, when status lost
// track of what that create wrote (its answer lost, and status reset since by a
// move or a later intent).
func WrittenTagKeys(tags map[string]string) []string {
	var keys []string
	for k := range tags {
		if !ownership.IsOwnershipKey(k) && !strings.HasPrefix(strings.ToLower(k), "aws:") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// Claim is what to do about an entry EKS already holds for the object's principal.
type Claim int

const (
	// ClaimOurs: the object owns the entry (Owns), and it has the wanted type.
	ClaimOurs Claim = iota
	// ClaimLeftover: ours, but of the type the object is moving away from (EKS has
	// not finished deleting it, or the operator died between the delete and the
	// create): delete it, then create the new one.
	ClaimLeftover
	// ClaimAdopt: no object records it, the object asks to adopt it, and the type
	// matches: take it over (once the guardrails allow it).
	ClaimAdopt
	// ClaimConflict: another AccessEntry records it; or its ownership tags name
	// this object, which did not create it (tags someone else wrote).
	ClaimConflict
	// ClaimAlreadyExists: no object records it, and the object does not ask to
	// adopt it.
	ClaimAlreadyExists
	// ClaimTypeMismatch: no object records it and adoption is asked, but it is of
	// another type, which EKS cannot change.
	ClaimTypeMismatch
)

var claimNames = [...]string{"Ours", "Leftover", "Adopt", "Conflict", "AlreadyExists", "TypeMismatch"}

func (c Claim) String() string { return claimNames[c] }

// Claimant is who else holds a claim on an entry: the AccessEntry whose status
// records its ARN, if any.
type Claimant struct {
	Namespace, Name string
}

// DecideClaim settles the ownership of an entry EKS holds for the principal.
// recordedBy is the other AccessEntry that records the entry as its own, nil when
// none does; it is needed unless status records the entry's ARN as the current one.
// The object never writes to an entry it does not own, except to adopt one no
// AccessEntry records and that the object opted in for; ownership tags are a hint
// only, never a proof.
func DecideClaim(e Observed, rec Record, self ownership.Owner, recordedBy *Claimant, want v1.AccessEntryType, adopt bool) Claim {
	tagged, _ := ownership.Of(e.Tags)
	current := rec.ARN != "" && e.ARN == rec.ARN
	owns := Owns(e, rec, self)
	switch {
	case owns && !current && recordedBy != nil:
		// Retained once, and another AccessEntry has taken it over since.
		return ClaimConflict
	case owns && e.Type != string(want):
		return ClaimLeftover
	case owns:
		return ClaimOurs
	case recordedBy != nil:
		return ClaimConflict
	case !adopt && tagged == self:
		return ClaimConflict
	case !adopt:
		return ClaimAlreadyExists
	case e.Type != string(want):
		return ClaimTypeMismatch
	}
	return ClaimAdopt
}

// Absence is what to do when EKS shows no entry for the identity status records.
type Absence int

const (
	// AbsentCreate: EKS never showed an entry of ours for it: create one.
	AbsentCreate Absence = iota
	// AbsentWait: created moments ago and never confirmed: EKS may not show it yet
	// (eventual consistency), so wait rather than create a second time.
	AbsentWait
	// AbsentDeletedOutOfBand: EKS showed it before, so someone deleted it: create
	// it again, as drift.
	AbsentDeletedOutOfBand
)

var absenceNames = [...]string{"Create", "Wait", "DeletedOutOfBand"}

func (a Absence) String() string { return absenceNames[a] }

// DecideAbsent decides about an entry that reads as absent, from what status
// recorded of it: when EKS created it, and whether a read-back ever confirmed it.
func DecideAbsent(st *v1.AccessEntryStatus, now time.Time, window time.Duration) Absence {
	switch {
	case st.CreatedAt == nil:
		return AbsentCreate
	case !confirmed(st) && now.Sub(st.CreatedAt.Time) < window:
		return AbsentWait
	}
	return AbsentDeletedOutOfBand
}

// MayStillAppear reports whether an entry of id that reads as absent may be there
// all the same: EKS answered its create moments ago (reads and deletes may not see
// it yet, whatever Ready says: a pass needs no read-back after its writes), or
// status recorded the identity, or a create was sent again, moments ago, and the
// operator may never have seen that create's answer, and no read-back has
// confirmed it since. Such an entry is not taken as gone until the window has
// passed since the latest of them.
func MayStillAppear(st *v1.AccessEntryStatus, id v1.EntryIdentity, now time.Time, window time.Duration) bool {
	if st.Identity == nil || *st.Identity != id {
		return false
	}
	recent := func(t *metav1.Time) bool { return t != nil && now.Sub(t.Time) < window }
	if st.AccessEntryARN != "" && recent(st.CreatedAt) {
		return true
	}
	return !confirmed(st) && (recent(st.IdentityRecordedAt) || recent(st.CreateSentAt))
}

// Removal is what to do with an entry the object is done with: it is being deleted,
// it moved to another identity, or its principal was created again in IAM.
type Removal int

const (
	// RemovalGone: EKS holds no such entry (or the cluster is gone, or it has
	// never been able to hold entries): nothing to delete.
	RemovalGone Removal = iota
	// RemovalKeep: deletionPolicy Retain; the entry stays as it is.
	RemovalKeep
	// RemovalDelete: the entry is ours: delete it.
	RemovalDelete
	// RemovalNotOurs: the entry carries no ownership tags of this object: never
	// delete it on the object's behalf.
	RemovalNotOurs
	// RemovalWait: absent, but recorded moments ago (MayStillAppear): wait, so that
	// an entry EKS shows late is not left behind.
	RemovalWait
	// RemovalGiveBack: an entry the object adopted is left as it was then, less
	// what the object added (Relinquish), no longer the object's.
	RemovalGiveBack
)

var removalNames = [...]string{"Gone", "Keep", "Delete", "NotOurs", "Wait", "GiveBack"}

func (r Removal) String() string { return removalNames[r] }

// Sighting is what one read of EKS showed of an entry to remove.
type Sighting struct {
	// Present: EKS shows the entry.
	Present bool
	// ClusterGone: the cluster does not exist, or only authenticates through the
	// aws-auth ConfigMap and so has never held an entry.
	ClusterGone bool
	// Ours: the entry carries this object's ownership tags.
	Ours bool
	// MayAppear: see MayStillAppear.
	MayAppear bool
}

// DecideRemoval decides what happens to an entry the object is done with. With
// retain, EKS is read only to learn the entry of a create whose answer was lost;
// otherwise the caller leaves Sighting empty.
func DecideRemoval(retain bool, s Sighting) Removal {
	switch {
	case !s.Present && !s.ClusterGone && s.MayAppear:
		return RemovalWait
	case retain:
		return RemovalKeep
	case !s.Present:
		return RemovalGone
	case !s.Ours:
		return RemovalNotOurs
	}
	return RemovalDelete
}

// Lookup is what IAM said of a principal.
type Lookup int

const (
	// LookupUnknown: IAM could not be asked (another account, no permission,
	// unreachable) or did not know the principal and never did.
	LookupUnknown Lookup = iota
	// LookupFound: IAM holds the principal, with its unique ID and creation time.
	LookupFound
	// LookupNoSuchPrincipal: IAM has no such principal.
	LookupNoSuchPrincipal
)

// PrincipalFacts are what the principal check knows: IAM's answer, and what
// status and EKS say of the entry.
type PrincipalFacts struct {
	Lookup Lookup
	// ID and Created are IAM's, for LookupFound.
	ID      string
	Created time.Time
	// RecordedID is status.principalID: the principal the entry was made for.
	RecordedID string
	// ReportedDeleted: the object already reports PrincipalDeleted.
	ReportedDeleted bool
	// EntryCreated is when EKS created the entry; zero when unknown.
	EntryCreated time.Time
}

// Principal is what to do after an IAM lookup of the entry's principal. EKS binds
// an entry to the unique ID of its principal, not its ARN: a role deleted and
// created again under the same ARN gets a new ID, and the old entry grants nothing.
type Principal int

const (
	// PrincipalUnchecked: nothing to act on; EKS stays the authority.
	PrincipalUnchecked Principal = iota
	// PrincipalSame: the principal the entry was made for; record its ID.
	PrincipalSame
	// PrincipalRecreated: a principal created after the entry holds the ARN now
	// (another ID than the one recorded, or none recorded and younger than the
	// entry): delete the entry and create it again.
	PrincipalRecreated
	// PrincipalDeleted: IAM had the principal before and has it no more; the entry
	// grants nothing but is kept, should IAM be wrong.
	PrincipalDeleted
)

var principalNames = [...]string{"Unchecked", "Same", "Recreated", "Deleted"}

func (p Principal) String() string { return principalNames[p] }

// DecidePrincipal decides about an entry's principal from an IAM lookup.
func DecidePrincipal(f PrincipalFacts) Principal {
	switch {
	case f.Lookup == LookupNoSuchPrincipal && (f.RecordedID != "" || f.ReportedDeleted):
		return PrincipalDeleted
	case f.Lookup != LookupFound:
		// Not known to IAM yet, and never known: EKS decides whether it exists.
		return PrincipalUnchecked
	case f.ID == f.RecordedID:
		return PrincipalSame
	case f.RecordedID == "" && (f.EntryCreated.IsZero() || !f.Created.After(f.EntryCreated)):
		// First check of an entry made for this principal, or one made before IAM
		// dates it (nothing says it is stale).
		return PrincipalSame
	}
	return PrincipalRecreated
}

// confirmed reports whether a read-back once showed the entry as the spec wants it.
func confirmed(st *v1.AccessEntryStatus) bool {
	return meta.IsStatusConditionTrue(st.Conditions, v1.ConditionReady)
}
