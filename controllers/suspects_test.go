package controllers

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestSuspectMarkOutlivesAPassThatReadBeforeIt: an event that arrives while a
// pass is under way may be of a change the pass read too early to see; its mark
// must survive the pass, so that the next one reads the entry again.
func TestSuspectMarkOutlivesAPassThatReadBeforeIt(t *testing.T) {
	s, uid, key := NewSuspects(), types.UID("u"), client.ObjectKey{Namespace: "ns", Name: "n"}

	s.MarkByEvent(uid, key)
	seen := s.Seen(uid) // the pass starts, then reads the entry
	s.MarkByEvent(uid, key)
	s.Settled(uid, seen)
	if !s.Has(uid) {
		t.Fatal("a mark made during the pass was cleared by it")
	}
	s.Settled(uid, s.Seen(uid)) // the next pass, with nothing new
	if s.Has(uid) {
		t.Fatal("a pass that saw the last mark left it")
	}

	seen = s.Seen(uid) // a pass of an object not suspect
	s.Mark(uid, key)
	s.Settled(uid, seen)
	if !s.Has(uid) {
		t.Fatal("a sweep's mark made during a pass that started unsuspected was cleared")
	}
}
