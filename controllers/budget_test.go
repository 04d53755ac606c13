package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/eksaccess/eks-access-operator/internal/budget"
)

// TestWokenWorkGoesFirst: behind a backlog of objects due in the queue (a
// verification round at 10,000 entries), an object the budget woke for its
// tokens, and one an event marked suspect, come out first: revocation, then a
// change, then a verification, then the suspect; the backlog after them in its
// order. With one first-in-first-out queue they waited behind the backlog, and
// the tokens set aside for them went back to the bucket before they came.
func TestWokenWorkGoesFirst(t *testing.T) {
	q := priorityqueue.New[reconcile.Request]("woken")
	defer q.ShutDown()
	s := NewSuspects()
	if err := s.queue.source().Start(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	key := func(name string) reconcile.Request {
		return reconcile.Request{NamespacedName: client.ObjectKey{Namespace: "team", Name: name}}
	}
	for i := range 200 {
		s.queue.add(key(fmt.Sprintf("backlog-%03d", i)))
	}
	s.Mark(types.UID("suspect"), key("suspect").NamespacedName)
	s.queue.addAs(key("verify"), readyPriority(budget.Background), 0)
	s.queue.addAs(key("change"), readyPriority(budget.Foreground), 0)
	s.queue.addAs(key("revoke"), readyPriority(budget.Revocation), 0)

	want := []string{"revoke", "change", "verify", "suspect", "backlog-000", "backlog-001"}
	for i, name := range want {
		got, _, _ := q.GetWithPriority()
		if got.Name != name {
			t.Fatalf("item %d out of the queue is %s, want %s (order wanted: %v)", i, got.Name, name, want)
		}
		q.Done(got)
	}
}

// TestRequeuedAtNormalPriority: an object that came out of the queue ahead of
// others goes back in at normal priority, so that it does not keep that place
// in the next round of verifications.
func TestRequeuedAtNormalPriority(t *testing.T) {
	res := requeuedAs(reconcile.Result{RequeueAfter: 5})
	if res.Priority == nil || *res.Priority != priorityNormal || res.RequeueAfter != 5 {
		t.Fatalf("requeuedAs gave priority %v and RequeueAfter %v, want %d and 5", res.Priority, res.RequeueAfter, priorityNormal)
	}
}

// TestExpiryWakeUpGoesFirstOnlyWhenItIsNext: the wake-up at an object's expiry
// is revocation work when it is the object's next look; when a requeue comes
// before it (a verification), that requeue is not lifted to revocation
// priority along with it.
func TestExpiryWakeUpGoesFirstOnlyWhenItIsNext(t *testing.T) {
	for _, tc := range []struct {
		until, requeue time.Duration
		want           int
	}{
		{time.Minute, time.Hour, priorityRevoke},
		{time.Minute, 0, priorityRevoke},
		{time.Hour, time.Hour, priorityRevoke},
		{24 * time.Hour, time.Hour, priorityNormal},
	} {
		if got := expiryPriority(tc.until, reconcile.Result{RequeueAfter: tc.requeue}); got != tc.want {
			t.Errorf("expiry in %s, requeue in %s: priority %d, want %d", tc.until, tc.requeue, got, tc.want)
		}
	}
}
