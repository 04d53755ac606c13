package plan

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
)

var (
	self  = ownership.Owner{Instance: "i1", Namespace: "team-a", Name: "dev"}
	now   = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	recID = v1.EntryIdentity{ClusterName: "demo", Region: "us-west-2", PrincipalARN: role, Type: v1.TypeStandard}
)

func tagsOf(o ownership.Owner, extra ...string) map[string]string {
	t := o.Tags()
	for i := 0; i+1 < len(extra); i += 2 {
		t[extra[i]] = extra[i+1]
	}
	return t
}

func TestDecideClaim(t *testing.T) {
	other := ownership.Owner{Instance: "i1", Namespace: "team-b", Name: "dev"}
	otherInstance := ownership.Owner{Instance: "i2", Namespace: "team-a", Name: "dev"}
	cases := []struct {
		name  string
		tags  map[string]string
		typ   string
		want  v1.AccessEntryType
		adopt bool
		claim Claim
	}{
		{"ours, of the wanted type", tagsOf(self), "STANDARD", v1.TypeStandard, false, ClaimOurs},
		{"ours, adopt asked too", tagsOf(self), "STANDARD", v1.TypeStandard, true, ClaimOurs},
		{"ours, of the type being moved away from", tagsOf(self), "STANDARD", v1.TypeEC2Linux, false, ClaimLeftover},
		{"another object's", tagsOf(other), "STANDARD", v1.TypeStandard, false, ClaimConflict},
		{"another object's, adopt asked: never taken", tagsOf(other), "STANDARD", v1.TypeStandard, true, ClaimConflict},
		{"another operator instance's, same object name", tagsOf(otherInstance), "STANDARD", v1.TypeStandard, true, ClaimConflict},
		{"one ownership tag of someone else", map[string]string{ownership.TagName: "dev"}, "STANDARD", v1.TypeStandard, true, ClaimConflict},
		{"nobody's, no adopt", map[string]string{"team": "a"}, "STANDARD", v1.TypeStandard, false, ClaimAlreadyExists},
		{"nobody's, no tags at all", nil, "EC2_LINUX", v1.TypeEC2Linux, false, ClaimAlreadyExists},
		{"nobody's, adopt, same type", nil, "STANDARD", v1.TypeStandard, true, ClaimAdopt},
		{"nobody's, adopt, another type", nil, "EC2_LINUX", v1.TypeStandard, true, ClaimTypeMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := DecideClaim(Observed{Tags: c.tags, Type: c.typ}, self, c.want, c.adopt); got != c.claim {
				t.Errorf("DecideClaim = %s, want %s", got, c.claim)
			}
		})
	}
}

func ready(status metav1.ConditionStatus) []metav1.Condition {
	return []metav1.Condition{{Type: v1.ConditionReady, Status: status, Reason: "r"}}
}

func at(ago time.Duration) *metav1.Time {
	t := metav1.NewTime(now.Add(-ago))
	return &t
}

func TestDecideAbsent(t *testing.T) {
	window := 30 * time.Second
	cases := []struct {
		name string
		st   v1.AccessEntryStatus
		want Absence
	}{
		{"never created (intent recorded, no answer seen)", v1.AccessEntryStatus{Identity: &recID, IdentityRecordedAt: at(time.Second)}, AbsentCreate},
		{"nothing recorded at all", v1.AccessEntryStatus{}, AbsentCreate},
		{"created a moment ago, not read back yet", v1.AccessEntryStatus{Identity: &recID, CreatedAt: at(5 * time.Second), Conditions: ready(metav1.ConditionFalse)}, AbsentWait},
		{"created a moment ago, no conditions yet", v1.AccessEntryStatus{Identity: &recID, CreatedAt: at(5 * time.Second)}, AbsentWait},
		{"created a moment ago but already confirmed: deleted since", v1.AccessEntryStatus{Identity: &recID, CreatedAt: at(5 * time.Second), Conditions: ready(metav1.ConditionTrue)}, AbsentDeletedOutOfBand},
		{"created long ago, never confirmed", v1.AccessEntryStatus{Identity: &recID, CreatedAt: at(time.Minute), Conditions: ready(metav1.ConditionFalse)}, AbsentDeletedOutOfBand},
		{"created long ago and confirmed", v1.AccessEntryStatus{Identity: &recID, CreatedAt: at(time.Hour), Conditions: ready(metav1.ConditionTrue)}, AbsentDeletedOutOfBand},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := DecideAbsent(&c.st, now, window); got != c.want {
				t.Errorf("DecideAbsent = %s, want %s", got, c.want)
			}
		})
	}
}

func TestMayStillAppear(t *testing.T) {
	window := 30 * time.Second
	moved := recID
	moved.Type = v1.TypeEC2Linux
	cases := []struct {
		name string
		st   v1.AccessEntryStatus
		id   v1.EntryIdentity
		want bool
	}{
		{"recorded moments ago, unconfirmed", v1.AccessEntryStatus{Identity: &recID, IdentityRecordedAt: at(time.Second)}, recID, true},
		{"recorded moments ago, Ready=False", v1.AccessEntryStatus{Identity: &recID, IdentityRecordedAt: at(time.Second), Conditions: ready(metav1.ConditionFalse)}, recID, true},
		{"recorded moments ago but confirmed", v1.AccessEntryStatus{Identity: &recID, IdentityRecordedAt: at(time.Second), Conditions: ready(metav1.ConditionTrue)}, recID, false},
		{"recorded before the window", v1.AccessEntryStatus{Identity: &recID, IdentityRecordedAt: at(time.Minute)}, recID, false},
		{"another identity than the one asked about", v1.AccessEntryStatus{Identity: &recID, IdentityRecordedAt: at(time.Second)}, moved, false},
		{"nothing recorded", v1.AccessEntryStatus{}, recID, false},
		{"identity without a time (recorded by an older version)", v1.AccessEntryStatus{Identity: &recID}, recID, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := MayStillAppear(&c.st, c.id, now, window); got != c.want {
				t.Errorf("MayStillAppear = %v, want %v", got, c.want)
			}
		})
	}
}

func TestDecideRemoval(t *testing.T) {
	cases := []struct {
		name   string
		retain bool
		seen   Sighting
		want   Removal
	}{
		{"Retain: never read, never deleted", true, Sighting{}, RemovalKeep},
		{"Retain even when ours and present", true, Sighting{Present: true, Ours: true}, RemovalKeep},
		{"ours: delete", false, Sighting{Present: true, Ours: true}, RemovalDelete},
		{"old identity still present after a crash mid-move: delete", false, Sighting{Present: true, Ours: true, MayAppear: true}, RemovalDelete},
		{"someone else's: leave it", false, Sighting{Present: true}, RemovalNotOurs},
		{"someone else's, recorded moments ago: leave it", false, Sighting{Present: true, MayAppear: true}, RemovalNotOurs},
		{"absent: nothing to do", false, Sighting{}, RemovalGone},
		{"absent just after a recorded create: wait for it", false, Sighting{MayAppear: true}, RemovalWait},
		{"cluster gone: nothing to do, even just after a create", false, Sighting{ClusterGone: true, MayAppear: true}, RemovalGone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := DecideRemoval(c.retain, c.seen); got != c.want {
				t.Errorf("DecideRemoval = %s, want %s", got, c.want)
			}
		})
	}
}

func TestDecidePrincipal(t *testing.T) {
	entryCreated := now.Add(-time.Hour)
	cases := []struct {
		name string
		f    PrincipalFacts
		want Principal
	}{
		{"IAM cannot tell", PrincipalFacts{Lookup: LookupUnknown, RecordedID: "AROA1"}, PrincipalUnchecked},
		{"not in IAM and never was (EKS decides)", PrincipalFacts{Lookup: LookupNoSuchPrincipal}, PrincipalUnchecked},
		{"not in IAM any more", PrincipalFacts{Lookup: LookupNoSuchPrincipal, RecordedID: "AROA1"}, PrincipalDeleted},
		{"still not in IAM, already reported", PrincipalFacts{Lookup: LookupNoSuchPrincipal, ReportedDeleted: true}, PrincipalDeleted},
		{"the recorded principal", PrincipalFacts{Lookup: LookupFound, ID: "AROA1", RecordedID: "AROA1", Created: now}, PrincipalSame},
		{"first check, principal older than the entry", PrincipalFacts{Lookup: LookupFound, ID: "AROA1", Created: entryCreated.Add(-time.Hour), EntryCreated: entryCreated}, PrincipalSame},
		{"first check, same second as the entry", PrincipalFacts{Lookup: LookupFound, ID: "AROA1", Created: entryCreated, EntryCreated: entryCreated}, PrincipalSame},
		{"first check, entry time unknown", PrincipalFacts{Lookup: LookupFound, ID: "AROA1", Created: now}, PrincipalSame},
		{"first check, principal younger than the entry", PrincipalFacts{Lookup: LookupFound, ID: "AROA2", Created: now, EntryCreated: entryCreated}, PrincipalRecreated},
		{"another ID than recorded", PrincipalFacts{Lookup: LookupFound, ID: "AROA2", RecordedID: "AROA1", Created: entryCreated.Add(-time.Hour), EntryCreated: entryCreated}, PrincipalRecreated},
		{"back after being reported deleted, new ID", PrincipalFacts{Lookup: LookupFound, ID: "AROA2", RecordedID: "AROA1", ReportedDeleted: true}, PrincipalRecreated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := DecidePrincipal(c.f); got != c.want {
				t.Errorf("DecidePrincipal = %s, want %s", got, c.want)
			}
		})
	}
}
