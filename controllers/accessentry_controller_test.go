package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

const (
	viewPolicy  = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
	editPolicy  = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
	adminPolicy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
)

func policy(arn string, namespaces ...v1.ScopeNamespace) v1.AccessPolicy {
	p := v1.AccessPolicy{PolicyARN: arn, AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}}
	if len(namespaces) > 0 {
		p.AccessScope = v1.AccessScope{Type: v1.AccessScopeNamespace, Namespaces: namespaces}
	}
	return p
}

func policiesOf(e eksemulator.Entry) map[string]string {
	out := map[string]string{}
	for _, p := range e.Policies {
		out[p.PolicyARN] = p.ScopeType + ":" + strings.Join(p.Namespaces, ",")
	}
	return out
}

func wantPolicies(t *testing.T, e eksemulator.Entry, want map[string]string) {
	t.Helper()
	if got := policiesOf(e); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("policies in EKS: got %v, want %v", got, want)
	}
}

func TestCreateWithTwoPoliciesInOnePass(t *testing.T) {
	testenv.RequireControlPlane(t)
	emu.ResetCalls()
	principal := roleARN("create-two-policies")
	ae := entry("create-two-policies", principal, func(ae *v1.AccessEntry) {
		ae.Spec.Username = "dev:{{SessionName}}"
		ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"viewers", "developers"}
		ae.Spec.Tags = map[string]v1.TagValue{"team": "a"}
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, "team-a", "team-a-*"), policy(viewPolicy)}
	})
	create(t, ae)
	got := waitReady(t, ae, 30*time.Second)
	wantHealth(t, ae, kstatus.CurrentStatus, "Healthy")

	e := mustEmuEntry(t, "demo", principal)
	wantPolicies(t, e, map[string]string{editPolicy: "namespace:team-a,team-a-*", viewPolicy: "cluster:"})
	if e.Username != "dev:{{SessionName}}" || !slices.Equal(sortedCopy(e.KubernetesGroups), []string{"developers", "viewers"}) {
		t.Errorf("EKS holds username %q groups %v", e.Username, e.KubernetesGroups)
	}
	if e.Tags["team"] != "a" || e.Tags[ownership.TagInstance] != instance || e.Tags[ownership.TagNamespace] != testNS || e.Tags[ownership.TagName] != ae.Name {
		t.Errorf("EKS holds tags %v", e.Tags)
	}
	// One pass: one create, one associate per policy, and Ready from EKS's answers
	// to them, with no read-back; no retries.
	for op, want := range map[string]int{"CreateAccessEntry": 1, "AssociateAccessPolicy": 2, "DescribeAccessEntry": 0, "ListAssociatedAccessPolicies": 0} {
		if got := calls(op); got != want {
			t.Errorf("%s called %d times, want %d (calls: %v)", op, got, want, emu.Calls())
		}
	}
	if got.Status.AccessEntryARN != e.AccessEntryARN || len(got.Status.AccessPolicies) != 2 || got.Status.Identity == nil ||
		got.Status.Identity.Region != region || got.Status.Username != e.Username {
		t.Errorf("status does not show what EKS holds: %+v", got.Status)
	}
}

func TestUpdates(t *testing.T) {
	testenv.RequireControlPlane(t)
	principal := roleARN("updates")
	ae := entry("updates", principal, func(ae *v1.AccessEntry) {
		ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"a"}
		ae.Spec.Tags = map[string]v1.TagValue{"keep": "1", "drop": "2"}
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, "ns1"), policy(viewPolicy)}
	})
	create(t, ae)
	waitReady(t, ae, 30*time.Second)
	e := mustEmuEntry(t, "demo", principal)
	if e.Username != awsarn.DefaultUsername(principal) {
		t.Fatalf("EKS username %q, want the derived %q", e.Username, awsarn.DefaultUsername(principal))
	}
	// A tag someone else set is not ours to remove.
	if _, err := admin.TagResource(context.Background(), &eks.TagResourceInput{ResourceArn: aws.String(e.AccessEntryARN), Tags: map[string]string{"owner-set": "x"}}); err != nil {
		t.Fatal(err)
	}

	t.Run("groups and username", func(t *testing.T) {
		ae = update(t, ae, func(ae *v1.AccessEntry) {
			ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"b", "c"}
			ae.Spec.Username = "ops:{{SessionName}}"
		})
		waitReady(t, ae, 30*time.Second)
		e := mustEmuEntry(t, "demo", principal)
		if e.Username != "ops:{{SessionName}}" || !slices.Equal(sortedCopy(e.KubernetesGroups), []string{"b", "c"}) {
			t.Fatalf("EKS holds username %q groups %v", e.Username, e.KubernetesGroups)
		}
	})
	t.Run("username removed goes back to the derived one", func(t *testing.T) {
		ae = update(t, ae, func(ae *v1.AccessEntry) { ae.Spec.Username = "" })
		waitReady(t, ae, 30*time.Second)
		e := mustEmuEntry(t, "demo", principal)
		if e.Username != awsarn.DefaultUsername(principal) || !slices.Equal(sortedCopy(e.KubernetesGroups), []string{"b", "c"}) {
			t.Fatalf("EKS holds username %q groups %v", e.Username, e.KubernetesGroups)
		}
	})
	t.Run("tags", func(t *testing.T) {
		ae = update(t, ae, func(ae *v1.AccessEntry) { ae.Spec.Tags = map[string]v1.TagValue{"keep": "changed", "new": "3"} })
		waitReady(t, ae, 30*time.Second)
		tags := mustEmuEntry(t, "demo", principal).Tags
		if tags["keep"] != "changed" || tags["new"] != "3" || tags["owner-set"] != "x" || tags[ownership.TagInstance] != instance {
			t.Fatalf("EKS tags %v", tags)
		}
		if _, ok := tags["drop"]; ok {
			t.Fatalf("tag removed from the spec is still in EKS: %v", tags)
		}
	})
	t.Run("scope changed in place", func(t *testing.T) {
		emu.ResetCalls()
		ae = update(t, ae, func(ae *v1.AccessEntry) { ae.Spec.AccessPolicies[0] = policy(editPolicy, "ns1", "ns2") })
		waitReady(t, ae, 30*time.Second)
		wantPolicies(t, mustEmuEntry(t, "demo", principal), map[string]string{editPolicy: "namespace:ns1,ns2", viewPolicy: "cluster:"})
		if n := calls("DisassociateAccessPolicy"); n != 0 {
			t.Fatalf("a scope change disassociated %d times: access would have had a gap", n)
		}
	})
	t.Run("policy removed", func(t *testing.T) {
		ae = update(t, ae, func(ae *v1.AccessEntry) { ae.Spec.AccessPolicies = ae.Spec.AccessPolicies[:1] })
		got := waitReady(t, ae, 30*time.Second)
		wantPolicies(t, mustEmuEntry(t, "demo", principal), map[string]string{editPolicy: "namespace:ns1,ns2"})
		if len(got.Status.AccessPolicies) != 1 {
			t.Fatalf("status shows policies %+v", got.Status.AccessPolicies)
		}
	})
}

func TestRecreateOnIdentityChange(t *testing.T) {
	testenv.RequireControlPlane(t)
	cases := []struct {
		name   string
		change func(*v1.AccessEntry)
		// newCluster and newPrincipal locate the new entry.
		newCluster, newPrincipal string
		sameSlot                 bool // the new entry has the old cluster and principal
	}{
		{name: "type", sameSlot: true, change: func(ae *v1.AccessEntry) {
			ae.Spec.Type, ae.Spec.KubernetesGroups, ae.Spec.AccessPolicies = v1.TypeEC2Linux, nil, nil
		}},
		{name: "principal", newPrincipal: roleARN("recreate-principal-new"), change: func(ae *v1.AccessEntry) {
			ae.Spec.PrincipalARN = roleARN("recreate-principal-new")
		}},
		{name: "cluster", newCluster: "other", change: func(ae *v1.AccessEntry) { ae.Spec.ClusterName = "other" }},
	}
	for _, tc := range cases {
		for _, policy := range []v1.DeletionPolicy{v1.DeletionPolicyDelete, v1.DeletionPolicyRetain} {
			if tc.sameSlot && policy == v1.DeletionPolicyRetain {
				continue // one principal has one entry per cluster: nothing can be retained
			}
			t.Run(tc.name+"/"+string(policy), func(t *testing.T) {
				oldPrincipal := roleARN("recreate-" + tc.name + "-" + strings.ToLower(string(policy)))
				ae := entry("recreate-"+tc.name+"-"+strings.ToLower(string(policy)), oldPrincipal, func(ae *v1.AccessEntry) {
					ae.Spec.DeletionPolicy = policy
					ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"g"}
					ae.Spec.AccessPolicies = []v1.AccessPolicy{{PolicyARN: viewPolicy, AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}}}
				})
				create(t, ae)
				waitReady(t, ae, 30*time.Second)
				ae = update(t, ae, tc.change)
				got := waitReady(t, ae, 30*time.Second)

				newCluster, newPrincipal := "demo", oldPrincipal
				if tc.newCluster != "" {
					newCluster = tc.newCluster
				}
				if tc.newPrincipal != "" {
					newPrincipal = tc.newPrincipal
				}
				e := mustEmuEntry(t, newCluster, newPrincipal)
				if e.Type != string(got.Spec.Type) || got.Status.AccessEntryARN != e.AccessEntryARN {
					t.Fatalf("new entry %+v, status %+v", e, got.Status)
				}
				if *got.Status.Identity != (v1.EntryIdentity{ClusterName: newCluster, Region: region, Account: account, Partition: "aws", PrincipalARN: newPrincipal, Type: got.Spec.Type}) {
					t.Fatalf("status identity %+v", got.Status.Identity)
				}
				// What EKS holds, in status as soon as the object is Ready (not at the next resync).
				if got.Status.Username != e.Username || !slices.Equal(got.Status.KubernetesGroups, sortedCopy(e.KubernetesGroups)) || got.Status.CreatedAt == nil {
					t.Fatalf("status username %q groups %q createdAt %v; EKS holds %q %q", got.Status.Username, got.Status.KubernetesGroups, got.Status.CreatedAt, e.Username, e.KubernetesGroups)
				}
				if !tc.sameSlot {
					_, left := emuEntry("demo", oldPrincipal)
					if policy == v1.DeletionPolicyDelete && left {
						t.Fatal("the entry of the old identity was left behind")
					}
					if policy == v1.DeletionPolicyRetain && !left {
						t.Fatal("deletionPolicy Retain, but the entry of the old identity was deleted")
					}
				}
				if tc.newPrincipal != "" || tc.newCluster != "" {
					t.Cleanup(func() { cleanupEntry(t, "demo", oldPrincipal) })
				}
			})
		}
	}
}

// cleanupEntry deletes an entry the test left in the emulator on purpose.
func cleanupEntry(t *testing.T, cluster, principal string) {
	t.Helper()
	if _, ok := emuEntry(cluster, principal); ok {
		if _, err := admin.DeleteAccessEntry(context.Background(), &eks.DeleteAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(principal)}); err != nil {
			t.Errorf("cleaning up %s: %v", principal, err)
		}
	}
}

func TestDelete(t *testing.T) {
	testenv.RequireControlPlane(t)
	for _, policy := range []v1.DeletionPolicy{v1.DeletionPolicyDelete, v1.DeletionPolicyRetain} {
		t.Run(string(policy), func(t *testing.T) {
			principal := roleARN("delete-" + strings.ToLower(string(policy)))
			ae := entry("delete-"+strings.ToLower(string(policy)), principal, func(ae *v1.AccessEntry) {
				ae.Spec.DeletionPolicy = policy
				ae.Spec.AccessPolicies = []v1.AccessPolicy{policy2(viewPolicy)}
			})
			create(t, ae)
			waitReady(t, ae, 30*time.Second)
			deleteAndWait(t, client.ObjectKeyFromObject(ae))
			_, left := emuEntry("demo", principal)
			if policy == v1.DeletionPolicyDelete && left {
				t.Fatal("the EKS entry is still there after the object was deleted")
			}
			if policy == v1.DeletionPolicyRetain {
				if !left {
					t.Fatal("deletionPolicy Retain, but the EKS entry was deleted")
				}
				cleanupEntry(t, "demo", principal)
			}
		})
	}
}

func policy2(arn string) v1.AccessPolicy { return policy(arn) }

// preexisting creates an entry directly in EKS, as someone outside the operator would.
func preexisting(t *testing.T, principal string) eksemulator.Entry {
	t.Helper()
	ctx := context.Background()
	if _, err := admin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{
		ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal),
		KubernetesGroups: []string{"handmade"}, Tags: map[string]string{"made-by": "hand"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{
		ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal), PolicyArn: aws.String(adminPolicy),
		AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster},
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupEntry(t, "demo", principal) })
	return mustEmuEntry(t, "demo", principal)
}

func TestOwnership(t *testing.T) {
	testenv.RequireControlPlane(t)
	t.Run("unowned entry: AlreadyExists, untouched, then adopted on opt-in", func(t *testing.T) {
		principal := roleARN("handmade")
		before := preexisting(t, principal)
		emu.ResetCalls()
		ae := entry("wants-handmade", principal, func(ae *v1.AccessEntry) {
			ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"managed"}
			ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)}
		})
		create(t, ae)
		got := waitReason(t, ae, v1.ReasonAlreadyExists, 30*time.Second)
		if c := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady); !strings.Contains(c.Message, principal) || !strings.Contains(c.Message, v1.AdoptAnnotation) {
			t.Fatalf("AlreadyExists message does not name the principal and the fix: %s", c.Message)
		}
		if !meta.IsStatusConditionTrue(got.Status.Conditions, v1.ConditionStalled) {
			t.Fatalf("AlreadyExists needs a person, want Stalled: %s", conditions(got))
		}
		wantHealth(t, ae, kstatus.FailedStatus, "Degraded")
		time.Sleep(3 * time.Second) // at least one recheck
		if n := writes() - calls("CreateAccessEntry"); n != 0 {
			t.Fatalf("%d writes to an entry the operator does not own (calls: %v)", n, emu.Calls())
		}
		if after := mustEmuEntry(t, "demo", principal); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("the unowned entry changed:\n before %+v\n after  %+v", before, after)
		}

		ae = update(t, ae, func(ae *v1.AccessEntry) { ae.Annotations = map[string]string{v1.AdoptAnnotation: "true"} })
		waitReady(t, ae, 30*time.Second)
		e := mustEmuEntry(t, "demo", principal)
		if e.Tags[ownership.TagName] != ae.Name || e.Tags["made-by"] != "hand" || !slices.Equal(e.KubernetesGroups, []string{"managed"}) {
			t.Fatalf("adopted entry: %+v", e)
		}
		wantPolicies(t, e, map[string]string{viewPolicy: "cluster:"})
	})

	t.Run("unowned entry is not deleted with an object that never adopted it", func(t *testing.T) {
		principal := roleARN("handmade-kept")
		before := preexisting(t, principal)
		ae := entry("not-adopting", principal)
		create(t, ae)
		waitReason(t, ae, v1.ReasonAlreadyExists, 30*time.Second)
		deleteAndWait(t, client.ObjectKeyFromObject(ae))
		if after, ok := emuEntry("demo", principal); !ok || fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("the unowned entry was touched: %+v", after)
		}
	})

	t.Run("entry owned by another object: Conflict, and its delete leaves the entry", func(t *testing.T) {
		principal := roleARN("contested")
		first := entry("contested-first", principal)
		create(t, first)
		waitReady(t, first, 30*time.Second)
		second := entry("contested-second", principal, func(ae *v1.AccessEntry) {
			ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"intruders"}
			ae.Annotations = map[string]string{v1.AdoptAnnotation: "true"}
		})
		create(t, second)
		got := waitReason(t, second, v1.ReasonConflict, 30*time.Second)
		if c := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady); !strings.Contains(c.Message, testNS+"/contested-first") {
			t.Fatalf("Conflict message does not name the owner: %s", c.Message)
		}
		deleteAndWait(t, client.ObjectKeyFromObject(second))
		e, ok := emuEntry("demo", principal)
		if !ok || e.Tags[ownership.TagName] != "contested-first" || len(e.KubernetesGroups) != 0 {
			t.Fatalf("the first object's entry was changed or deleted: %+v (present %v)", e, ok)
		}
	})
}

func TestNodeRoleNeverListsPolicies(t *testing.T) {
	testenv.RequireControlPlane(t)
	emu.ResetCalls()
	principal := roleARN("node-role")
	ae := entry("node-role", principal, func(ae *v1.AccessEntry) { ae.Spec.Type = v1.TypeEC2Windows })
	create(t, ae)
	got := waitReady(t, ae, 30*time.Second)
	forceResync(t, ae)
	if n := calls("ListAssociatedAccessPolicies"); n != 0 {
		t.Fatalf("ListAssociatedAccessPolicies called %d times for a node role", n)
	}
	// EKS's own username and groups for the node are shown, and are not drift.
	if !strings.HasPrefix(got.Status.Username, "system:node:") || !slices.Contains(got.Status.KubernetesGroups, "system:nodes") {
		t.Fatalf("status username %q groups %v", got.Status.Username, got.Status.KubernetesGroups)
	}
	if n := writes(); n != 1 {
		t.Fatalf("%d writes for one node entry, want the create only (calls %v)", n, emu.Calls())
	}
}

// forceResync makes the operator re-read the entries, as a verification does, by
// asking for one (the eksaccess.io/verify annotation), and waits until each has
// been described again.
func forceResync(t *testing.T, entries ...*v1.AccessEntry) {
	t.Helper()
	before := calls("DescribeAccessEntry")
	stamp := time.Now().Format(time.RFC3339Nano)
	for _, ae := range entries {
		update(t, ae, func(ae *v1.AccessEntry) {
			if ae.Annotations == nil {
				ae.Annotations = map[string]string{}
			}
			ae.Annotations[v1.VerifyAnnotation] = stamp
		})
	}
	eventually(t, 30*time.Second, "a resync of every entry", func() (bool, string) {
		n := calls("DescribeAccessEntry") - before
		return n >= len(entries), fmt.Sprintf("%d describes", n)
	})
	time.Sleep(500 * time.Millisecond) // let any extra call show up
}

func TestSteadyStateCalls(t *testing.T) {
	testenv.RequireControlPlane(t)
	var all []*v1.AccessEntry
	standard := 0
	for i := range 6 {
		ae := entry(fmt.Sprintf("steady-%d", i), roleARN(fmt.Sprintf("steady-%d", i)), func(ae *v1.AccessEntry) {
			if i%3 == 0 {
				ae.Spec.Type = v1.TypeEC2Linux
				return
			}
			ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"g"}
			ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy), policy(editPolicy, "a")}
			ae.Spec.Tags = map[string]v1.TagValue{"k": "v"}
		})
		if ae.Spec.Type == "" {
			standard++
		}
		create(t, ae)
		all = append(all, ae)
	}
	for _, ae := range all {
		waitReady(t, ae, 30*time.Second)
	}
	emu.ResetCalls()
	forceResync(t, all...)
	if n := writes(); n != 0 {
		t.Fatalf("steady state wrote %d times: %v", n, emu.Calls())
	}
	if d, l := calls("DescribeAccessEntry"), calls("ListAssociatedAccessPolicies"); d != len(all) || l != standard {
		t.Fatalf("one resync of %d entries (%d STANDARD) made %d describes and %d policy lists, want %d and %d",
			len(all), standard, d, l, len(all), standard)
	}
}

func TestConsistencyWindowsAbsorbed(t *testing.T) {
	testenv.RequireControlPlane(t)
	emu.SetFaults(eksemulator.Faults{ConsistencyDelay: 3 * time.Second})
	t.Cleanup(func() { emu.SetFaults(eksemulator.Faults{}) })

	principal := roleARN("eventually")
	ae := entry("eventually", principal, func(ae *v1.AccessEntry) {
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)}
	})
	create(t, ae)
	neverStalled := watchStalled(t, ae)
	waitReady(t, ae, 60*time.Second)
	wantPolicies(t, mustEmuEntry(t, "demo", principal), map[string]string{viewPolicy: "cluster:"})

	// A type change deletes and creates the same principal: 409 until the delete propagates.
	ae = update(t, ae, func(ae *v1.AccessEntry) { ae.Spec.Type, ae.Spec.AccessPolicies = v1.TypeEC2Linux, nil })
	waitReady(t, ae, 60*time.Second)
	if e := mustEmuEntry(t, "demo", principal); e.Type != "EC2_LINUX" {
		t.Fatalf("EKS holds type %s", e.Type)
	}
	neverStalled()
}

// watchStalled polls the object in the background and returns a check that fails
// the test if Stalled was ever seen.
func watchStalled(t *testing.T, ae *v1.AccessEntry) func() {
	t.Helper()
	stop, seen := make(chan struct{}), make(chan string, 1)
	go func() {
		for {
			select {
			case <-stop:
				close(seen)
				return
			case <-time.After(100 * time.Millisecond):
			}
			cur := &v1.AccessEntry{}
			if k8s.Get(context.Background(), client.ObjectKeyFromObject(ae), cur) == nil &&
				meta.IsStatusConditionTrue(cur.Status.Conditions, v1.ConditionStalled) {
				select {
				case seen <- conditions(cur):
				default:
				}
			}
		}
	}()
	return func() {
		t.Helper()
		close(stop)
		if msg, ok := <-seen; ok && msg != "" {
			t.Fatalf("%s was Stalled: %s", ae.Name, msg)
		}
	}
}

func TestThrottledFleetConverges(t *testing.T) {
	testenv.RequireControlPlane(t)
	emu.SetFaults(eksemulator.Faults{RateLimit: 5, Burst: 5})
	t.Cleanup(func() { emu.SetFaults(eksemulator.Faults{}) })
	emu.ResetCalls()

	var all []*v1.AccessEntry
	for i := range 50 {
		ae := entry(fmt.Sprintf("fleet-%02d", i), roleARN(fmt.Sprintf("fleet-%02d", i)), func(ae *v1.AccessEntry) {
			switch i % 3 {
			case 0:
				ae.Spec.Type = v1.TypeEC2Linux
			case 1:
				ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)}
			}
		})
		create(t, ae)
		all = append(all, ae)
	}
	deadline := time.Now().Add(4 * time.Minute)
	for {
		ready, stalled := 0, []string{}
		for _, ae := range all {
			cur := get(t, client.ObjectKeyFromObject(ae))
			if meta.IsStatusConditionTrue(cur.Status.Conditions, v1.ConditionReady) {
				ready++
			}
			if meta.IsStatusConditionTrue(cur.Status.Conditions, v1.ConditionStalled) {
				stalled = append(stalled, cur.Name+": "+conditions(cur))
			}
		}
		if len(stalled) > 0 {
			t.Fatalf("stalled under throttling: %v", stalled)
		}
		if ready == len(all) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d Ready after 4 minutes (calls %v)", ready, len(all), emu.Calls())
		}
		time.Sleep(time.Second)
	}
	t.Logf("50 entries converged at 5 requests/s; EKS calls: %v", emu.Calls())
	for _, ae := range all {
		if _, ok := emuEntry("demo", ae.Spec.PrincipalARN); !ok {
			t.Fatalf("%s is Ready but EKS has no entry", ae.Name)
		}
	}
}

func TestConfigMapClusterConvergesAfterModeSwitch(t *testing.T) {
	testenv.RequireControlPlane(t)
	principal := roleARN("legacy-user")
	ae := entry("legacy-user", principal, func(ae *v1.AccessEntry) { ae.Spec.ClusterName = "legacy" })
	create(t, ae)
	got := waitReason(t, ae, v1.ReasonAuthenticationModeNotSupported, 30*time.Second)
	msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message
	if !strings.Contains(msg, "aws eks update-cluster-config --name legacy --access-config authenticationMode=API_AND_CONFIG_MAP") {
		t.Fatalf("the message does not say how to fix it: %s", msg)
	}
	wantHealth(t, ae, kstatus.FailedStatus, "Degraded")
	if _, err := admin.UpdateClusterConfig(context.Background(), &eks.UpdateClusterConfigInput{
		Name: aws.String("legacy"), AccessConfig: &types.UpdateAccessConfigRequest{AuthenticationMode: types.AuthenticationModeApiAndConfigMap},
	}); err != nil {
		t.Fatal(err)
	}
	waitReady(t, ae, 30*time.Second)
	mustEmuEntry(t, "legacy", principal)
}

func TestDriftCorrectedWithinOneResync(t *testing.T) {
	testenv.RequireControlPlane(t)
	const resync = 2 * time.Second
	stop, err := startManager(shardLabel+"=fast", resync, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	ctx := context.Background()
	principal := roleARN("drifting")
	ae := entry("drifting", principal, func(ae *v1.AccessEntry) {
		ae.Labels = map[string]string{shardLabel: "fast"}
		ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"g"}
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)}
	})
	create(t, ae)
	waitReady(t, ae, 30*time.Second)
	within := 2*resync + 2*time.Second // one jittered resync, plus the writes

	t.Run("entry deleted out of band is created again", func(t *testing.T) {
		if _, err := admin.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal)}); err != nil {
			t.Fatal(err)
		}
		eventually(t, within, "the entry to be back with its policy", func() (bool, string) {
			e, ok := emuEntry("demo", principal)
			return ok && len(e.Policies) == 1, fmt.Sprintf("%+v", e)
		})
	})
	t.Run("groups and policies changed out of band are put back", func(t *testing.T) {
		if _, err := admin.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal), KubernetesGroups: []string{"evil"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal),
			PolicyArn: aws.String(adminPolicy), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster}}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.DisassociateAccessPolicy(ctx, &eks.DisassociateAccessPolicyInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal), PolicyArn: aws.String(viewPolicy)}); err != nil {
			t.Fatal(err)
		}
		eventually(t, within, "groups and policies to be put back", func() (bool, string) {
			e, _ := emuEntry("demo", principal)
			return slices.Equal(e.KubernetesGroups, []string{"g"}) && fmt.Sprint(policiesOf(e)) == fmt.Sprint(map[string]string{viewPolicy: "cluster:"}),
				fmt.Sprintf("groups %v policies %v", e.KubernetesGroups, policiesOf(e))
		})
	})
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// TestResumesAfterCrash stands for an operator killed in the middle of a move to
// another principal, at the two points where EKS and status disagree: after the
// delete of the old entry was sent (status still records it by its ARN), and after
// the create of the new one was sent (status records the new identity, the answer
// was lost). Each time the next operator finishes the move: one entry, the new
// one, recorded in status.
func TestResumesAfterCrash(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	paused := func(name, principal string) *v1.AccessEntry {
		ae := entry(name, principal, func(ae *v1.AccessEntry) {
			ae.Labels = map[string]string{shardLabel: "paused"}
			ae.Finalizers = []string{v1.Finalizer}
		})
		create(t, ae)
		return ae
	}
	seed := func(principal, name string) string {
		out, err := admin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal),
			Tags: ownership.Owner{Instance: instance, Namespace: testNS, Name: name}.Tags()})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.AccessEntry.AccessEntryArn)
	}
	setStatus := func(ae *v1.AccessEntry, mutate func(*v1.AccessEntryStatus)) {
		cur := get(t, client.ObjectKeyFromObject(ae))
		before := cur.DeepCopy()
		mutate(&cur.Status)
		if err := k8s.Status().Patch(ctx, cur, client.MergeFrom(before)); err != nil {
			t.Fatal(err)
		}
	}
	// intentRecorded leaves status as a create of principal's entry leaves it when
	// its answer is lost: the identity and the intent recorded a second ago, no ARN.
	intentRecorded := func(ae *v1.AccessEntry, principal string) {
		recorded := metav1.NewTime(time.Now().Add(-time.Second))
		setStatus(ae, func(st *v1.AccessEntryStatus) {
			st.Identity = &v1.EntryIdentity{ClusterName: "demo", Region: region, PrincipalARN: principal, Type: v1.TypeStandard}
			st.IdentityRecordedAt = &recorded
		})
	}
	resume := func(ae *v1.AccessEntry, principal string, creates int) {
		emu.ResetCalls()
		update(t, ae, func(ae *v1.AccessEntry) { ae.Labels = nil }) // the operator is back
		got := waitReady(t, ae, 30*time.Second)
		e := mustEmuEntry(t, "demo", principal)
		if got.Status.AccessEntryARN != e.AccessEntryARN || got.Status.Identity.PrincipalARN != principal {
			t.Fatalf("status %+v does not record the new entry %s", got.Status, e.AccessEntryARN)
		}
		if n := calls("CreateAccessEntry"); n != creates {
			t.Fatalf("CreateAccessEntry called %d times, want %d", n, creates)
		}
		if creates > 0 && got.Status.CreateSentAt != nil {
			t.Fatalf("status.createSentAt %v stays after the create's answer was recorded", got.Status.CreateSentAt)
		}
	}

	t.Run("killed after the old entry's delete was sent", func(t *testing.T) {
		oldPrincipal, newPrincipal := roleARN("crash-old"), roleARN("crash-new")
		ae := paused("crash", newPrincipal)
		oldARN := seed(oldPrincipal, ae.Name)
		t.Cleanup(func() { cleanupEntry(t, "demo", oldPrincipal) })
		setStatus(ae, func(st *v1.AccessEntryStatus) {
			st.Identity = &v1.EntryIdentity{ClusterName: "demo", Region: region, PrincipalARN: oldPrincipal, Type: v1.TypeStandard}
			st.AccessEntryARN = oldARN
		})
		resume(ae, newPrincipal, 1)
		if _, ok := emuEntry("demo", oldPrincipal); ok {
			t.Fatal("the entry of the old identity was left behind")
		}
	})

	t.Run("killed after the new entry's create was sent", func(t *testing.T) {
		principal := roleARN("crash-created")
		ae := paused("crash-created", principal)
		intentRecorded(ae, principal)
		seed(principal, ae.Name) // the create whose answer was lost
		resume(ae, principal, 0)
	})

	// A lost create whose tags status no longer lists (reset since by a later
	// intent): they are the ones that create wrote, so a spec without them has
	// them removed, where they used to stay on an entry reported Ready.
	t.Run("killed after a create was sent, its tags since dropped from the spec", func(t *testing.T) {
		principal := roleARN("crash-tags")
		ae := paused("crash-tags", principal)
		intentRecorded(ae, principal)
		tags := ownership.Owner{Instance: instance, Namespace: testNS, Name: ae.Name}.Tags()
		tags["team"] = "a" // written by the create whose answer was lost
		if _, err := admin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal), Tags: tags}); err != nil {
			t.Fatal(err)
		}
		resume(ae, principal, 0)
		if e := mustEmuEntry(t, "demo", principal); e.Tags["team"] != "" {
			t.Fatalf("Ready with the tag team=%s the spec does not have still on the entry: %v", e.Tags["team"], e.Tags)
		}
	})

	// Moved away under Retain before the answer was recorded: the entry that create
	// made is kept among the retained ones, so that moving back claims it again
	// (it used to be forgotten, and moving back ended in Conflict).
	t.Run("killed after a create was sent, then moved away under Retain", func(t *testing.T) {
		oldPrincipal, newPrincipal := roleARN("crash-retain-old"), roleARN("crash-retain-new")
		ae := paused("crash-retain", newPrincipal)
		update(t, ae, func(ae *v1.AccessEntry) { ae.Spec.DeletionPolicy = v1.DeletionPolicyRetain })
		intentRecorded(ae, oldPrincipal)
		oldARN := seed(oldPrincipal, ae.Name) // the create whose answer was lost
		t.Cleanup(func() { cleanupEntry(t, "demo", oldPrincipal); cleanupEntry(t, "demo", newPrincipal) })
		resume(ae, newPrincipal, 1)
		got := get(t, client.ObjectKeyFromObject(ae))
		if !slices.ContainsFunc(got.Status.RetainedEntries, func(e v1.RetainedEntry) bool { return e.ARN == oldARN }) {
			t.Fatalf("status.retainedEntries %+v does not keep %s, the entry of the create whose answer was lost", got.Status.RetainedEntries, oldARN)
		}
		if _, ok := emuEntry("demo", oldPrincipal); !ok {
			t.Fatal("the retained entry was deleted")
		}
		update(t, ae, func(ae *v1.AccessEntry) { ae.Spec.PrincipalARN = oldPrincipal })
		if back := waitReady(t, ae, 30*time.Second); back.Status.AccessEntryARN != oldARN {
			t.Fatalf("moved back, status records %s, want the retained %s", back.Status.AccessEntryARN, oldARN)
		}
	})

	// Deleted after a create sent again long after the intent (the first ones were
	// throttled, say), whose answer was lost: EKS may show the entry only seconds
	// after that create, so the object waits for it and deletes it, where it used
	// to be released at once (the intent being old) and the entry left behind.
	t.Run("killed after a create sent again long after the intent, then deleted", func(t *testing.T) {
		principal := roleARN("crash-late-create")
		ae := paused("crash-late-create", principal)
		t.Cleanup(func() { cleanupEntry(t, "demo", principal) })
		intent, sent := metav1.NewTime(time.Now().Add(-2*time.Minute)), metav1.NewTime(time.Now().Add(-time.Second))
		setStatus(ae, func(st *v1.AccessEntryStatus) {
			st.Identity = &v1.EntryIdentity{ClusterName: "demo", Region: region, PrincipalARN: principal, Type: v1.TypeStandard}
			st.IdentityRecordedAt, st.CreateSentAt = &intent, &sent
		})
		if err := k8s.Delete(ctx, ae); err != nil {
			t.Fatal(err)
		}
		update(t, ae, func(ae *v1.AccessEntry) { ae.Labels = nil }) // the operator is back
		time.Sleep(2 * time.Second)
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(ae), &v1.AccessEntry{}); err != nil {
			t.Fatalf("the object was released (%v) while the entry of a create sent a second before may still show", err)
		}
		seed(principal, ae.Name) // the create, shown by EKS now
		eventually(t, 30*time.Second, "the object released and its entry deleted", func() (bool, string) {
			_, held := emuEntry("demo", principal)
			err := k8s.Get(ctx, client.ObjectKeyFromObject(ae), &v1.AccessEntry{})
			return !held && apierrors.IsNotFound(err), fmt.Sprintf("entry held %v, object %v", held, err)
		})
	})

	// Moved back to a retained entry: the create found it (ResourceInUse), and the
	// operator died before status took it back. The next pass reads it through the
	// recorded identity, and still takes it back with the tag keys the object wrote
	// on it then, so that those its spec has dropped since go (they used to stay on
	// an entry reported Ready).
	t.Run("killed after moving back to a retained entry", func(t *testing.T) {
		principal := roleARN("crash-back")
		ae := paused("crash-back", principal)
		update(t, ae, func(ae *v1.AccessEntry) { ae.Spec.DeletionPolicy = v1.DeletionPolicyRetain })
		tags := ownership.Owner{Instance: instance, Namespace: testNS, Name: ae.Name}.Tags()
		tags["team"] = "a" // written while the spec had it, before the object moved away
		out, err := admin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal), Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		kept := aws.ToString(out.AccessEntry.AccessEntryArn)
		t.Cleanup(func() { cleanupEntry(t, "demo", principal) })
		intentRecorded(ae, principal)
		setStatus(ae, func(st *v1.AccessEntryStatus) {
			st.RetainedEntries = []v1.RetainedEntry{{ARN: kept, ManagedTags: []string{"team"}}}
		})
		resume(ae, principal, 0)
		got := get(t, client.ObjectKeyFromObject(ae))
		if e := mustEmuEntry(t, "demo", principal); e.Tags["team"] != "" || e.AccessEntryARN != kept {
			t.Fatalf("Ready with the tag team=%s the spec does not have still on the entry (%s, kept %s)", e.Tags["team"], e.AccessEntryARN, kept)
		}
		if len(got.Status.RetainedEntries) != 0 {
			t.Fatalf("status.retainedEntries %+v still lists the entry it took back", got.Status.RetainedEntries)
		}
	})
}

// TestResumesAfterCrashMidTypeChange stands for an operator killed during a type
// change, after it recorded the new identity and before the old entry was gone:
// EKS holds this object's STANDARD entry while status records EC2_LINUX. The next
// operator must not take the old entry for the new one.
func TestResumesAfterCrashMidTypeChange(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	principal := roleARN("crash-type")
	ae := entry("crash-type", principal, func(ae *v1.AccessEntry) {
		ae.Labels = map[string]string{shardLabel: "paused"}
		ae.Finalizers = []string{v1.Finalizer}
		ae.Spec.Type = v1.TypeEC2Linux
	})
	create(t, ae)
	if _, err := admin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal),
		Type: aws.String("STANDARD"), Tags: ownership.Owner{Instance: instance, Namespace: testNS, Name: ae.Name}.Tags()}); err != nil {
		t.Fatal(err)
	}
	cur := get(t, client.ObjectKeyFromObject(ae))
	before := cur.DeepCopy()
	now := metav1.Now()
	cur.Status.Identity = &v1.EntryIdentity{ClusterName: "demo", Region: region, PrincipalARN: principal, Type: v1.TypeEC2Linux}
	cur.Status.IdentityRecordedAt = &now
	if err := k8s.Status().Patch(ctx, cur, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}

	update(t, ae, func(ae *v1.AccessEntry) { ae.Labels = nil }) // the operator is back
	waitReady(t, ae, 30*time.Second)
	if e := mustEmuEntry(t, "demo", principal); e.Type != "EC2_LINUX" {
		t.Fatalf("Ready with EKS holding type %s, want EC2_LINUX", e.Type)
	}
	deleteAndWait(t, client.ObjectKeyFromObject(ae))
}

// TestDeleteWhereNothingWasCreated checks that an object whose entry EKS never
// created goes away at once: on a CONFIG_MAP cluster (which can hold no entry),
// and after EKS refused the create (no wait for an entry that may still appear).
func TestDeleteWhereNothingWasCreated(t *testing.T) {
	testenv.RequireControlPlane(t)
	for _, tc := range []struct {
		name, reason string
		mutate       func(*v1.AccessEntry)
	}{
		{"configmap-cluster", v1.ReasonAuthenticationModeNotSupported, func(ae *v1.AccessEntry) { ae.Spec.ClusterName = "configmap-only" }},
		{"refused-create", v1.ReasonInvalidSpec, func(ae *v1.AccessEntry) {
			ae.Spec.Type, ae.Spec.PrincipalARN = v1.TypeEC2Linux, "arn:aws:iam::"+remoteAccount+":role/foreign-nodes"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ae := entry("nothing-created-"+tc.name, roleARN("nothing-created-"+tc.name), tc.mutate)
			create(t, ae)
			waitReason(t, ae, tc.reason, 30*time.Second)
			start := time.Now()
			deleteAndWait(t, client.ObjectKeyFromObject(ae))
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("the delete took %s, want it at once", d)
			}
		})
	}
}
