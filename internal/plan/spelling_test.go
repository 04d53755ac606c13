package plan

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

func TestSpelledFirst(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	const window = 30 * time.Second
	id := v1.EntryIdentity{ClusterName: "prod", Region: "eu-west-1", Account: "111122223333", PrincipalARN: "arn:aws:iam::111122223333:role/Ops"}
	older, younger := now.Add(-time.Hour), now.Add(-time.Minute)
	at := func(d time.Duration) *metav1.Time { return &metav1.Time{Time: now.Add(-d)} }
	holding := func(created time.Time, key string) Spelling {
		return Spelling{Status: &v1.AccessEntryStatus{Identity: &id, AccessEntryARN: "arn:entry", CreatedAt: at(time.Hour)}, Holds: true, Created: created, Key: key}
	}
	// about: identity recorded moments ago, no entry yet (its create may be on its way).
	about := func(created time.Time, key string) Spelling {
		return Spelling{Status: &v1.AccessEntryStatus{Identity: &id, IdentityRecordedAt: at(time.Second)}, Created: created, Key: key}
	}
	// idle: identity recorded long ago, no entry (refused, or never created).
	idle := func(created time.Time, key string) Spelling {
		return Spelling{Status: &v1.AccessEntryStatus{Identity: &id, IdentityRecordedAt: at(time.Hour)}, Created: created, Key: key}
	}
	bare := func(created time.Time, key string) Spelling {
		return Spelling{Status: &v1.AccessEntryStatus{}, Created: created, Key: key}
	}
	for _, c := range []struct {
		name        string
		other, self Spelling
		want        bool
	}{
		{"it holds, the object does not", holding(younger, "b/b"), idle(older, "a/a"), true},
		{"the object holds, it does not", about(older, "a/a"), holding(younger, "b/b"), false},
		{"both hold, it is older", holding(older, "b/b"), holding(younger, "a/a"), true},
		{"both hold, it is younger", holding(younger, "a/a"), holding(older, "b/b"), false},
		{"both hold, made the same second, its name first", holding(older, "a/a"), holding(older, "b/b"), true},
		{"both hold, made the same second, its name after", holding(older, "b/b"), holding(older, "a/a"), false},
		{"neither holds, it is about to create and older", about(older, "b/b"), about(younger, "a/a"), true},
		{"neither holds, it is about to create but younger", about(younger, "a/a"), idle(older, "b/b"), false},
		{"neither holds, it is older but idle", idle(older, "a/a"), about(younger, "b/b"), false},
		{"neither holds, it never recorded an identity", bare(older, "a/a"), about(younger, "b/b"), false},
	} {
		if got := SpelledFirst(c.other, c.self, now, window); got != c.want {
			t.Errorf("%s: SpelledFirst = %v, want %v", c.name, got, c.want)
		}
	}

	// Of two objects that both hold, or both are about to create, exactly one
	// comes first, seen from either side.
	for _, pair := range [][2]Spelling{
		{holding(older, "a/a"), holding(older, "b/b")},
		{holding(older, "a/a"), holding(younger, "b/b")},
		{about(older, "a/a"), about(older, "b/b")},
		{about(younger, "a/a"), about(older, "b/b")},
		{holding(younger, "a/a"), about(older, "b/b")},
	} {
		ab, ba := SpelledFirst(pair[0], pair[1], now, window), SpelledFirst(pair[1], pair[0], now, window)
		if ab == ba {
			t.Errorf("%s and %s: each comes first = %v, want exactly one", pair[0].Key, pair[1].Key, ab)
		}
	}
}
