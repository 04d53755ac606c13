package plan

import (
	"slices"
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

func TestOwns(t *testing.T) {
	intent := now.Add(-time.Second)
	cases := []struct {
		name string
		e    Observed
		rec  Record
		want bool
	}{
		{"the ARN status records", Observed{ARN: "arn:1", Tags: nil}, Record{ARN: "arn:1"}, true},
		{"the ARN status records, tags stripped out of band", Observed{ARN: "arn:1", Tags: map[string]string{"x": "y"}}, Record{ARN: "arn:1"}, true},
		{"another ARN with our tags (forged, or an earlier life)", Observed{ARN: "arn:2", Tags: tagsOf(self)}, Record{ARN: "arn:1"}, false},
		{"our tags, created after the recorded intent (a lost create answer)", Observed{ARN: "arn:2", Tags: tagsOf(self), CreatedAt: now}, Record{IntentAt: intent}, true},
		{"our tags, created long before the intent", Observed{ARN: "arn:2", Tags: tagsOf(self), CreatedAt: intent.Add(-time.Hour)}, Record{IntentAt: intent}, false},
		{"our tags, no intent recorded", Observed{ARN: "arn:2", Tags: tagsOf(self), CreatedAt: now}, Record{}, false},
		{"created after the intent, but someone else's tags", Observed{ARN: "arn:2", Tags: tagsOf(ownership.Owner{Instance: "i1", Namespace: "x", Name: "y"}), CreatedAt: now}, Record{IntentAt: intent}, false},
		{"nothing recorded, no tags", Observed{ARN: "arn:2"}, Record{}, false},
		{"an entry it retained when it moved away", Observed{ARN: "arn:kept"}, Record{ARN: "arn:1", Retained: []string{"arn:0", "arn:kept"}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Owns(c.e, c.rec, self); got != c.want {
				t.Errorf("Owns = %v, want %v", got, c.want)
			}
		})
	}
}

func TestRecordOf(t *testing.T) {
	other := recID
	other.PrincipalARN = "arn:aws:iam::111122223333:role/other"
	st := &v1.AccessEntryStatus{AccessEntryARN: "arn:1", Identity: &recID, IdentityRecordedAt: at(time.Second)}
	if got := RecordOf(st, recID); got.ARN != "arn:1" || got.IntentAt.IsZero() {
		t.Errorf("RecordOf(recorded identity) = %+v", got)
	}
	if got := RecordOf(st, other); !got.IntentAt.IsZero() {
		t.Errorf("RecordOf(another identity) = %+v: the intent was for %s", got, recID.PrincipalARN)
	}
}

func TestDecideClaim(t *testing.T) {
	other := ownership.Owner{Instance: "i1", Namespace: "team-b", Name: "dev"}
	byARN := Record{ARN: "arn:mine"}
	intent := Record{IntentAt: now.Add(-time.Second)}
	cases := []struct {
		name       string
		e          Observed
		rec        Record
		recordedBy *Claimant
		want       v1.AccessEntryType
		adopt      bool
		claim      Claim
	}{
		{"the entry status records", Observed{ARN: "arn:mine", Type: "STANDARD"}, byARN, nil, v1.TypeStandard, false, ClaimOurs},
		{"created under our recorded intent", Observed{ARN: "arn:new", Type: "STANDARD", Tags: tagsOf(self), CreatedAt: now}, intent, nil, v1.TypeStandard, false, ClaimOurs},
		{"ours, of the type being moved away from", Observed{ARN: "arn:new", Type: "STANDARD", Tags: tagsOf(self), CreatedAt: now}, intent, nil, v1.TypeEC2Linux, false, ClaimLeftover},
		{"another AccessEntry records it", Observed{ARN: "arn:theirs", Type: "STANDARD", Tags: tagsOf(other)}, Record{}, &Claimant{"team-b", "dev"}, v1.TypeStandard, false, ClaimConflict},
		{"another records it, though its tags were forged to name us", Observed{ARN: "arn:theirs", Type: "STANDARD", Tags: tagsOf(self)}, Record{}, &Claimant{"team-b", "dev"}, v1.TypeStandard, true, ClaimConflict},
		{"tags naming us on an entry we did not create", Observed{ARN: "arn:x", Type: "STANDARD", Tags: tagsOf(self), CreatedAt: now.Add(-time.Hour)}, intent, nil, v1.TypeStandard, false, ClaimConflict},
		{"retained by a deleted object: adoptable", Observed{ARN: "arn:kept", Type: "STANDARD", Tags: tagsOf(other)}, Record{}, nil, v1.TypeStandard, true, ClaimAdopt},
		{"retained by a deleted object, no adopt", Observed{ARN: "arn:kept", Type: "STANDARD", Tags: tagsOf(other)}, Record{}, nil, v1.TypeStandard, false, ClaimAlreadyExists},
		{"nobody's, no adopt", Observed{ARN: "arn:x", Type: "STANDARD"}, Record{}, nil, v1.TypeStandard, false, ClaimAlreadyExists},
		{"nobody's, adopt, same type", Observed{ARN: "arn:x", Type: "STANDARD"}, Record{}, nil, v1.TypeStandard, true, ClaimAdopt},
		{"nobody's, adopt, another type", Observed{ARN: "arn:x", Type: "EC2_LINUX"}, Record{}, nil, v1.TypeStandard, true, ClaimTypeMismatch},
		{"retained by this object earlier, moved back to", Observed{ARN: "arn:kept", Type: "STANDARD", Tags: tagsOf(self), CreatedAt: now.Add(-time.Hour)},
			Record{Retained: []string{"arn:kept"}, IntentAt: now}, nil, v1.TypeStandard, false, ClaimOurs},
		{"retained by this object, since adopted by another", Observed{ARN: "arn:kept", Type: "STANDARD", Tags: tagsOf(self)},
			Record{Retained: []string{"arn:kept"}}, &Claimant{"team-b", "dev"}, v1.TypeStandard, false, ClaimConflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := DecideClaim(c.e, c.rec, self, c.recordedBy, c.want, c.adopt); got != c.claim {
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
		{"recorded before the window, a create sent again moments ago", v1.AccessEntryStatus{Identity: &recID, IdentityRecordedAt: at(time.Minute), CreateSentAt: at(time.Second)}, recID, true},
		{"recorded and a create sent, both before the window", v1.AccessEntryStatus{Identity: &recID, IdentityRecordedAt: at(time.Hour), CreateSentAt: at(time.Minute)}, recID, false},
		{"a create sent moments ago but confirmed since", v1.AccessEntryStatus{Identity: &recID, IdentityRecordedAt: at(time.Minute), CreateSentAt: at(time.Second), Conditions: ready(metav1.ConditionTrue)}, recID, false},
		{"created by EKS moments ago, Ready from the write's answers alone", v1.AccessEntryStatus{Identity: &recID, IdentityRecordedAt: at(time.Minute), AccessEntryARN: "arn:entry", CreatedAt: at(time.Second), Conditions: ready(metav1.ConditionTrue)}, recID, true},
		{"created by EKS before the window", v1.AccessEntryStatus{Identity: &recID, IdentityRecordedAt: at(time.Hour), AccessEntryARN: "arn:entry", CreatedAt: at(time.Minute)}, recID, false},
		{"created by EKS moments ago, for another identity", v1.AccessEntryStatus{Identity: &recID, AccessEntryARN: "arn:entry", CreatedAt: at(time.Second)}, moved, false},
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
		{"Retain, a create's answer lost and EKS not showing it yet: wait, so its ARN is kept", true, Sighting{MayAppear: true}, RemovalWait},
		{"Retain, a create's answer lost, cluster gone: nothing to wait for", true, Sighting{ClusterGone: true, MayAppear: true}, RemovalKeep},
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

func TestWrittenTagKeys(t *testing.T) {
	got := WrittenTagKeys(map[string]string{"team": "a", "Env": "b", "eksaccess.io/name": "x", "EKSACCESS.IO/other": "y", "aws:cloudformation:stack-name": "s", "AWS:x": "z"})
	if want := []string{"Env", "team"}; !slices.Equal(got, want) {
		t.Fatalf("WrittenTagKeys = %v, want %v: ownership tags and aws: tags are never the spec's", got, want)
	}
}
