package plan

import (
	"time"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// Spelling is an AccessEntry that names a principal in one letter case, as the
// order between the spellings of one principal sees it.
type Spelling struct {
	Status *v1.AccessEntryStatus
	// Holds: the object has recorded its entry of the identity it names now.
	Holds   bool
	Created time.Time
	// Key is namespace/name, the last tie-break.
	Key string
}

// SpelledFirst reports whether other, which names self's principal in another
// letter case, comes first: it holds its entry and self does not; or neither
// holds and other is about to create its entry (MayStillAppear); or both or
// neither hold, and other is the older (created first, then by namespace and
// name). Every object of the principal orders the two alike, so that of two
// made at once exactly one yields.
func SpelledFirst(other, self Spelling, now time.Time, window time.Duration) bool {
	switch {
	case other.Holds != self.Holds:
		return other.Holds
	case !other.Holds && (other.Status.Identity == nil || !MayStillAppear(other.Status, *other.Status.Identity, now, window)):
		return false
	case !other.Created.Equal(self.Created):
		return other.Created.Before(self.Created)
	}
	return other.Key < self.Key
}
