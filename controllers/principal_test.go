package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/plan"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// EKS binds an entry to the unique ID of its principal. A role deleted in IAM
// leaves an entry that grants nothing (reported, kept); a role created again under
// the same ARN needs a new entry, which the operator makes. Checked through the
// emulator's IAM GetRole and its record of the ID each entry was made for.
func TestPrincipalDeletedAndCreatedAgainInIAM(t *testing.T) {
	testenv.RequireControlPlane(t)
	stop, err := startManager(shardLabel+"=principals", time.Second, false, func(r *AccessEntryReconciler) {
		r.Principals = r.AWS
		r.PrincipalCheckInterval = time.Second
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)

	principal := roleARN("recreated-in-iam")
	ae := entry("recreated-in-iam", principal, func(ae *v1.AccessEntry) {
		ae.Labels = map[string]string{shardLabel: "principals"}
		ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"team"}
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)}
	})
	create(t, ae)
	waitReady(t, ae, 30*time.Second)
	key := client.ObjectKeyFromObject(ae)
	eventually(t, 15*time.Second, "status.principalID to hold IAM's ID of the role", func() (bool, string) {
		cur := get(t, key)
		return cur.Status.PrincipalID == emu.PrincipalID(principal) && cur.Status.PrincipalID != "", cur.Status.PrincipalID
	})
	first := mustEmuEntry(t, "demo", principal)

	t.Run("deleted in IAM: reported, entry kept", func(t *testing.T) {
		emu.DeletePrincipal(principal)
		cur := waitReason(t, ae, v1.ReasonPrincipalDeleted, 15*time.Second)
		msg := meta.FindStatusCondition(cur.Status.Conditions, v1.ConditionReady).Message
		for _, want := range []string{"IAM has no " + principal, "Create the role or user again", "delete this AccessEntry"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message %q does not say %q", msg, want)
			}
		}
		if !meta.IsStatusConditionTrue(cur.Status.Conditions, v1.ConditionStalled) {
			t.Errorf("not Stalled: %s", conditions(cur))
		}
		if e := mustEmuEntry(t, "demo", principal); e.AccessEntryARN != first.AccessEntryARN {
			t.Fatalf("the entry was replaced while the principal is gone: %s, was %s", e.AccessEntryARN, first.AccessEntryARN)
		}
	})

	// recreated waits for an entry other than was, made for the principal's current
	// ID, with the spec's groups and policy, and the object Ready with that ID.
	recreated := func(t *testing.T, was string) string {
		t.Helper()
		var arn string
		eventually(t, 60*time.Second, "a new entry made for the principal's new ID", func() (bool, string) {
			e, ok := emuEntry("demo", principal)
			arn = e.AccessEntryARN
			return ok && e.AccessEntryARN != was && !e.PrincipalStale && e.PrincipalID == emu.PrincipalID(principal) &&
				slices.Equal(e.KubernetesGroups, []string{"team"}) && len(e.Policies) == 1, fmt.Sprintf("%+v", e)
		})
		cur := waitReady(t, ae, 30*time.Second)
		// Status shows the new entry as soon as the object is Ready, not at the next resync.
		if cur.Status.Username != awsarn.DefaultUsername(principal) || !slices.Equal(cur.Status.KubernetesGroups, []string{"team"}) || len(cur.Status.AccessPolicies) != 1 {
			t.Fatalf("status after the re-creation: username %q groups %q policies %+v", cur.Status.Username, cur.Status.KubernetesGroups, cur.Status.AccessPolicies)
		}
		// The new entry's principal is looked up at the next check.
		eventually(t, 15*time.Second, "status.principalID to hold the new ID", func() (bool, string) {
			cur := get(t, key)
			return cur.Status.PrincipalID == emu.PrincipalID(principal), cur.Status.PrincipalID + " " + conditions(cur)
		})
		return arn
	}

	var second string
	t.Run("created again: the entry is recreated for it", func(t *testing.T) {
		emu.RecreatePrincipal(principal)
		second = recreated(t, first.AccessEntryARN)
	})

	t.Run("deleted and created again between two checks", func(t *testing.T) {
		old := emu.PrincipalID(principal)
		emu.RecreatePrincipal(principal)
		if e := mustEmuEntry(t, "demo", principal); !e.PrincipalStale || e.PrincipalID != old {
			t.Fatalf("the emulator does not show the entry as stale: %+v", e)
		}
		recreated(t, second)
	})

	eventually(t, 10*time.Second, "a PrincipalRecreated event", func() (bool, string) {
		list := &eventsv1.EventList{}
		if err := k8s.List(context.Background(), list, client.InNamespace(testNS)); err != nil {
			return false, err.Error()
		}
		return slices.ContainsFunc(list.Items, func(e eventsv1.Event) bool {
			return e.Regarding.Name == ae.Name && e.Reason == "PrincipalRecreated" && strings.Contains(e.Note, "was deleted and created again in IAM")
		}), fmt.Sprintf("%d events", len(list.Items))
	})

	t.Run("a principal in another account is never acted on", func(t *testing.T) {
		other := "arn:aws:iam::999988887777:role/elsewhere"
		ae := entry("principal-elsewhere", other, func(ae *v1.AccessEntry) {
			ae.Labels = map[string]string{shardLabel: "principals"}
		})
		create(t, ae)
		waitReady(t, ae, 30*time.Second)
		before := mustEmuEntry(t, "demo", other)
		emu.RecreatePrincipal(other)
		time.Sleep(5 * time.Second) // several checks and resyncs
		if e := mustEmuEntry(t, "demo", other); e.AccessEntryARN != before.AccessEntryARN {
			t.Fatalf("an entry whose principal the operator cannot read in IAM was recreated")
		}
		if cur := waitReady(t, ae, 5*time.Second); cur.Status.PrincipalID != "" {
			t.Fatalf("status.principalID %q for a principal in another account", cur.Status.PrincipalID)
		}
		deleteAndWait(t, client.ObjectKeyFromObject(ae))
	})

	t.Run("an entry older than its principal, before any ID was recorded", func(t *testing.T) {
		p := roleARN("older-than-its-role")
		ae := entry("older-than-its-role", p, func(ae *v1.AccessEntry) { ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"team"} })
		create(t, ae) // reconciled by the suite's manager, which does not look principals up
		waitReady(t, ae, 30*time.Second)
		before := mustEmuEntry(t, "demo", p)
		time.Sleep(1100 * time.Millisecond) // IAM's creation dates are whole seconds
		emu.RecreatePrincipal(p)
		update(t, ae, func(ae *v1.AccessEntry) { ae.Labels = map[string]string{shardLabel: "principals"} })
		eventually(t, 60*time.Second, "a new entry for the role created after the entry", func() (bool, string) {
			e, ok := emuEntry("demo", p)
			return ok && e.AccessEntryARN != before.AccessEntryARN && !e.PrincipalStale && slices.Equal(e.KubernetesGroups, []string{"team"}), fmt.Sprintf("%+v", e)
		})
		waitReady(t, ae, 30*time.Second)
		deleteAndWait(t, client.ObjectKeyFromObject(ae))
	})

	deleteAndWait(t, key)
	if _, ok := emuEntry("demo", principal); ok {
		t.Fatal("the entry is left after the object was deleted")
	}
}

// The principal check keeps its own schedule: with lookups every 5s and full
// verifications only hourly, a role deleted and created again in IAM is found
// by a lookup between verifications, and its entry recreated within 30s, with
// a PrincipalRecreated event. Before the check had its own schedule it ran only
// inside a verification, an hour away here.
func TestPrincipalCheckBetweenVerifications(t *testing.T) {
	testenv.RequireControlPlane(t)
	const shard = "principal-schedule"
	stop, err := startManager(shardLabel+"="+shard, time.Hour, false, func(r *AccessEntryReconciler) {
		r.Principals = r.AWS
		r.PrincipalCheckInterval = 5 * time.Second
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)

	principal := roleARN("checked-between-verifications")
	ae := entry("checked-between-verifications", principal, func(ae *v1.AccessEntry) {
		ae.Labels = map[string]string{shardLabel: shard}
		ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"team"}
	})
	create(t, ae)
	waitReady(t, ae, 30*time.Second)
	key := client.ObjectKeyFromObject(ae)
	eventually(t, 15*time.Second, "status.principalID to hold IAM's ID of the role", func() (bool, string) {
		cur := get(t, key)
		return cur.Status.PrincipalID != "" && cur.Status.PrincipalID == emu.PrincipalID(principal), cur.Status.PrincipalID
	})
	before := mustEmuEntry(t, "demo", principal)

	emu.RecreatePrincipal(principal)
	start := time.Now()
	eventually(t, 30*time.Second, "a new entry bound to the role's new ID", func() (bool, string) {
		e, ok := emuEntry("demo", principal)
		return ok && e.AccessEntryARN != before.AccessEntryARN && !e.PrincipalStale && e.PrincipalID == emu.PrincipalID(principal), fmt.Sprintf("%+v", e)
	})
	t.Logf("re-bound %s after the role was created again", time.Since(start).Round(100*time.Millisecond))
	eventually(t, 10*time.Second, "a PrincipalRecreated event", func() (bool, string) {
		list := &eventsv1.EventList{}
		if err := k8s.List(context.Background(), list, client.InNamespace(testNS)); err != nil {
			return false, err.Error()
		}
		return slices.ContainsFunc(list.Items, func(e eventsv1.Event) bool {
			return e.Regarding.Name == ae.Name && e.Reason == "PrincipalRecreated"
		}), fmt.Sprintf("%d events", len(list.Items))
	})
	waitReady(t, ae, 30*time.Second)
	deleteAndWait(t, key)
}

// A lookup that finds the principal created again keeps it due until the entry
// is recreated: the lookup booked the next one an interval away, and a pass that
// stops before acting (its budget spent, say) must not leave the entry bound to
// the old principal until then. Found by a red-team run: with a tenant spending
// the account's budget, a Ready entry stayed stale for 261 s at a 60 s interval.
func TestPrincipalRecreatedStaysDue(t *testing.T) {
	r := &AccessEntryReconciler{EntryOptions: stepOptions(), Principals: testClients(awsConfig(), "http://127.0.0.1:1", nil)}
	ae := stepObject("stays-due")
	ae.Status.PrincipalID = "AROAOLD"
	p := newEntryPass(ae)
	r.nextPrincipalCheck.Store(ae.UID, time.Now().Add(r.PrincipalCheckInterval)) // as lookupPrincipal books it
	p.principal = &principalLookup{id: "AROANEW", created: time.Now()}
	if got := r.decidePrincipal(p, time.Now().Add(-time.Hour)); got != plan.PrincipalRecreated {
		t.Fatalf("decision %v, want PrincipalRecreated", got)
	}
	if !r.principalCheckDue(ae) {
		t.Fatal("a principal found created again is not due any more: the entry would wait an interval to be recreated")
	}
}
