package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// The suite's emulator holds three clusters named prod: in the operator's own
// account and region, in another account (reached through a role), and in the
// operator's account in another region. Whatever happens to the
// ClusterAccessConfigs, an entry may only ever be where its object resolves to,
// and never be left where it was.

const euRegion = "eu-west-1"

var remoteRole = "arn:aws:iam::" + remoteAccount + ":role/eks-access-operator"

// where is which of the three prod clusters hold an entry for the principal.
func prodHolding(principal string) string {
	var out []string
	for _, c := range []struct{ name, account, region string }{
		{"own", account, region}, {"remote", remoteAccount, region}, {"eu", account, euRegion},
	} {
		for _, e := range emu.Entries(c.account, c.region, "prod") {
			if e.PrincipalARN == principal {
				out = append(out, c.name)
			}
		}
	}
	return strings.Join(out, ",")
}

func waitHolding(t *testing.T, principal, want string) {
	t.Helper()
	eventually(t, 30*time.Second, "the entry of "+principal+" in exactly: "+want, func() (bool, string) {
		got := prodHolding(principal)
		return got == want, got
	})
}

// setConfig creates or updates a ClusterAccessConfig for prod and waits until it
// has read the cluster.
func setConfig(t *testing.T, name string, mutate func(*v1.ClusterAccessConfigSpec)) {
	t.Helper()
	ctx := context.Background()
	cur := &v1.ClusterAccessConfig{}
	err := k8s.Get(ctx, client.ObjectKey{Name: name}, cur)
	if apierrors.IsNotFound(err) {
		cur = &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.ClusterAccessConfigSpec{ClusterName: "prod"}}
		mutate(&cur.Spec)
		if err := k8s.Create(ctx, cur); err != nil {
			t.Fatal(err)
		}
	} else if err != nil {
		t.Fatal(err)
	} else {
		mutate(&cur.Spec)
		if err := k8s.Update(ctx, cur); err != nil {
			t.Fatal(err)
		}
	}
	waitConfig(t, name, 30*time.Second, "to read the cluster", func(c *v1.ClusterAccessConfig) bool { return configReady(c) })
}

// releaseConfig deletes a ClusterAccessConfig and lets it go at once.
func releaseConfig(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	cur := &v1.ClusterAccessConfig{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: name}, cur); apierrors.IsNotFound(err) {
		return
	} else if err != nil {
		t.Fatal(err)
	}
	released := cur.DeepCopy()
	released.Annotations = map[string]string{v1.ReleaseAnnotation: "true"}
	if err := k8s.Patch(ctx, released, client.MergeFrom(cur)); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, cur); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "ClusterAccessConfig "+name+" to be gone", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Name: name}, &v1.ClusterAccessConfig{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

func TestIdentityAcrossAccounts(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	principal := roleARN("prod-admins")
	const cfg = "prod-accounts"
	t.Cleanup(func() { releaseConfig(t, cfg) })
	setConfig(t, cfg, func(s *v1.ClusterAccessConfigSpec) { s.RoleARN, s.ExternalID = remoteRole, "platform-team" })
	ae := entry("prod-admins", principal, func(ae *v1.AccessEntry) {
		ae.Spec.ClusterName = "prod"
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)}
	})
	create(t, ae)
	got := waitReady(t, ae, 30*time.Second)
	waitHolding(t, principal, "remote")
	if id := got.Status.Identity; id.Account != remoteAccount || id.Partition != "aws" || got.Status.RoleARN != remoteRole {
		t.Fatalf("status records %+v through %q", id, got.Status.RoleARN)
	}

	t.Run("the config no longer assumes a role: the entry moves to the operator's account", func(t *testing.T) {
		setConfig(t, cfg, func(s *v1.ClusterAccessConfigSpec) { s.RoleARN, s.ExternalID = "", "" })
		waitHolding(t, principal, "own")
		got := waitReady(t, ae, 30*time.Second)
		if got.Status.Identity.Account != account || got.Status.RoleARN != "" {
			t.Fatalf("status %+v", got.Status)
		}
		eventually(t, 10*time.Second, "a Recreating event naming both accounts", func() (bool, string) {
			return hasEvent(testNS, ae.Name, "Recreating", "account "+remoteAccount) && hasEvent(testNS, ae.Name, "Recreating", "account "+account), ""
		})
		c := &v1.ClusterAccessConfig{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: cfg}, c); err != nil || len(c.Status.RetiredTargets) == 0 || c.Status.RetiredTargets[0].RoleARN != remoteRole {
			t.Errorf("the config's retired targets %+v (%v)", c.Status.RetiredTargets, err)
		}
	})

	t.Run("re-pointed back: it moves back", func(t *testing.T) {
		setConfig(t, cfg, func(s *v1.ClusterAccessConfigSpec) { s.RoleARN, s.ExternalID = remoteRole, "platform-team" })
		waitHolding(t, principal, "remote")
		waitReady(t, ae, 30*time.Second)
	})

	t.Run("deleting the config in use waits, and says who uses it", func(t *testing.T) {
		if err := k8s.Delete(ctx, &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cfg}}); err != nil {
			t.Fatal(err)
		}
		got := waitConfig(t, cfg, 30*time.Second, "to report it is in use", func(c *v1.ClusterAccessConfig) bool {
			r := meta.FindStatusCondition(c.Status.Conditions, v1.ConditionReady)
			return r != nil && r.Reason == v1.ReasonInUse
		})
		msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message
		for _, want := range []string{testNS + "/prod-admins", v1.ReleaseAnnotation} {
			if !strings.Contains(msg, want) {
				t.Errorf("InUse message %q does not say %q", msg, want)
			}
		}
		time.Sleep(2 * time.Second)
		if got := prodHolding(principal); got != "remote" {
			t.Fatalf("while the config waits, the entry is in %q", got)
		}
	})

	t.Run("let go: the object now resolves to the operator's account, and its entry moves there", func(t *testing.T) {
		releaseConfig(t, cfg)
		waitHolding(t, principal, "own")
		waitReady(t, ae, 30*time.Second)
	})

	t.Run("a config created again: back to the other account", func(t *testing.T) {
		setConfig(t, cfg, func(s *v1.ClusterAccessConfigSpec) { s.RoleARN, s.ExternalID = remoteRole, "platform-team" })
		waitHolding(t, principal, "remote")
		waitReady(t, ae, 30*time.Second)
	})

	t.Run("every move was an event", func(t *testing.T) {
		for _, move := range []string{
			"in cluster prod (region " + region + ", account " + remoteAccount + ", through role " + remoteRole + "); creating it in cluster prod (region " + region + ", account " + account + ")",
			"in cluster prod (region " + region + ", account " + account + "); creating it in cluster prod (region " + region + ", account " + remoteAccount,
		} {
			eventually(t, 10*time.Second, "a Recreating event saying "+move, func() (bool, string) {
				return hasEvent(testNS, ae.Name, "Recreating", move), "none yet"
			})
		}
	})

	t.Run("the object deleted: the entry goes where it is", func(t *testing.T) {
		deleteAndWait(t, client.ObjectKeyFromObject(ae))
		waitHolding(t, principal, "")
		// No AccessEntry depends on the config any more: it goes at once.
		if err := k8s.Delete(ctx, &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cfg}}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "the unused config to be gone", func() (bool, string) {
			err := k8s.Get(ctx, client.ObjectKey{Name: cfg}, &v1.ClusterAccessConfig{})
			return apierrors.IsNotFound(err), fmt.Sprint(err)
		})
	})
}

func TestIdentityAcrossRegions(t *testing.T) {
	testenv.RequireControlPlane(t)
	principal := roleARN("prod-regional")
	ae := entry("prod-regional", principal, func(ae *v1.AccessEntry) { ae.Spec.ClusterName = "prod" }) // no spec.region
	create(t, ae)
	waitReady(t, ae, 30*time.Second)
	waitHolding(t, principal, "own")

	t.Run("a config for the same cluster name in another region changes nothing", func(t *testing.T) {
		t.Cleanup(func() { releaseConfig(t, "prod-eu") })
		emu.ResetCalls()
		setConfig(t, "prod-eu", func(s *v1.ClusterAccessConfigSpec) { s.Region = euRegion })
		time.Sleep(2 * time.Second)
		if got := prodHolding(principal); got != "own" {
			t.Fatalf("the entry is in %q", got)
		}
		if n := writes(); n != 0 {
			t.Fatalf("%d writes", n)
		}
	})

	t.Run("two configs for the cluster and region: Stalled, naming both, nothing moved", func(t *testing.T) {
		t.Cleanup(func() { releaseConfig(t, "prod-one"); releaseConfig(t, "prod-two") })
		setConfig(t, "prod-one", func(s *v1.ClusterAccessConfigSpec) {})
		setConfig(t, "prod-two", func(s *v1.ClusterAccessConfigSpec) { s.Region = region })
		got := waitReason(t, ae, v1.ReasonAmbiguousClusterConfig, 30*time.Second)
		msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message
		if !strings.Contains(msg, "prod-one, prod-two") || !strings.Contains(msg, "Fix:") {
			t.Errorf("message %q", msg)
		}
		if got := prodHolding(principal); got != "own" {
			t.Fatalf("the entry is in %q", got)
		}
	})
}
