package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// createConfig creates a ClusterAccessConfig and deletes it when the test ends.
func createConfig(t *testing.T, cac *v1.ClusterAccessConfig) {
	t.Helper()
	if err := k8s.Create(context.Background(), cac); err != nil {
		t.Fatalf("creating ClusterAccessConfig %s: %v", cac.Name, err)
	}
	t.Cleanup(func() {
		if err := k8s.Delete(context.Background(), cac); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting ClusterAccessConfig %s: %v", cac.Name, err)
		}
	})
}

// rulesConfig creates the ClusterAccessConfig of cluster with these guardrail
// rules, and waits until it has read the cluster's account.
func rulesConfig(t *testing.T, cluster string, rules ...v1.GrantRule) {
	t.Helper()
	createConfig(t, &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cluster}, Spec: v1.ClusterAccessConfigSpec{
		ClusterName: cluster, Guardrails: v1.Guardrails{Rules: rules}}})
	waitConfig(t, cluster, 30*time.Second, "to read the cluster", func(c *v1.ClusterAccessConfig) bool { return configReady(c) && c.Status.AccountID != "" })
}

// waitConfig waits until the ClusterAccessConfig satisfies ok and returns it.
func waitConfig(t *testing.T, name string, timeout time.Duration, what string, ok func(*v1.ClusterAccessConfig) bool) *v1.ClusterAccessConfig {
	t.Helper()
	cur := &v1.ClusterAccessConfig{}
	eventually(t, timeout, "ClusterAccessConfig "+name+" "+what, func() (bool, string) {
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, cur); err != nil {
			return false, err.Error()
		}
		return ok(cur), fmt.Sprintf("mode %s, cluster %s, conditions %+v, unmanaged entries %+v", cur.Status.AuthenticationMode, cur.Status.ClusterStatus, cur.Status.Conditions, cur.Status.UnmanagedEntries)
	})
	return cur
}

func configReady(c *v1.ClusterAccessConfig) bool {
	r := meta.FindStatusCondition(c.Status.Conditions, v1.ConditionReady)
	return r != nil && r.Status == metav1.ConditionTrue && c.Status.ObservedGeneration == c.Generation
}

func clusterMode(t *testing.T, name string) string {
	t.Helper()
	out, err := admin.DescribeCluster(context.Background(), &eks.DescribeClusterInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return string(out.Cluster.AccessConfig.AuthenticationMode)
}

func TestAuthenticationModeMovesForward(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	principal := roleARN("modeswitch-user")
	ae := entry("modeswitch-user", principal, func(ae *v1.AccessEntry) { ae.Spec.ClusterName = "modeswitch" })
	create(t, ae)
	waitReason(t, ae, v1.ReasonAuthenticationModeNotSupported, 30*time.Second)

	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: "modeswitch"},
		Spec: v1.ClusterAccessConfigSpec{ClusterName: "modeswitch", AuthenticationMode: v1.AuthenticationModeAPIAndConfigMap}}
	createConfig(t, cac)
	waitConfig(t, cac.Name, 30*time.Second, "to report the update in progress", func(c *v1.ClusterAccessConfig) bool {
		r := meta.FindStatusCondition(c.Status.Conditions, v1.ConditionReconciling)
		return r != nil && r.Reason == v1.ReasonUpdatingAuthenticationMode
	})
	got := waitConfig(t, cac.Name, 30*time.Second, "to be Ready in API_AND_CONFIG_MAP", func(c *v1.ClusterAccessConfig) bool {
		return configReady(c) && c.Status.AuthenticationMode == "API_AND_CONFIG_MAP"
	})
	if got.Status.Update == nil || got.Status.Update.Status != "Successful" || !got.Status.AccessEntriesSupported {
		t.Fatalf("status after the update: %+v", got.Status)
	}
	waitReady(t, ae, 30*time.Second)
	mustEmuEntry(t, "modeswitch", principal)

	cur := &v1.ClusterAccessConfig{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: cac.Name}, cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.AuthenticationMode = v1.AuthenticationModeAPI
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	waitConfig(t, cac.Name, 30*time.Second, "to be Ready in API", func(c *v1.ClusterAccessConfig) bool {
		return configReady(c) && c.Status.AuthenticationMode == "API"
	})
	if m := clusterMode(t, "modeswitch"); m != "API" {
		t.Fatalf("EKS reports mode %s", m)
	}
	waitReady(t, ae, 30*time.Second)

	t.Run("backward change refused at admission", func(t *testing.T) {
		if err := k8s.Get(ctx, client.ObjectKey{Name: cac.Name}, cur); err != nil {
			t.Fatal(err)
		}
		cur.Spec.AuthenticationMode = v1.AuthenticationModeAPIAndConfigMap
		err := k8s.Update(ctx, cur)
		if err == nil || !strings.Contains(err.Error(), "spec.authenticationMode") || !strings.Contains(err.Error(), "can only move forward") {
			t.Fatalf("want the backward change refused with a clear message, got %v", err)
		}
	})
}

func TestCrossAccountClusterThroughAssumeRole(t *testing.T) {
	testenv.RequireControlPlane(t)
	principal := "arn:aws:iam::" + remoteAccount + ":role/remote-admin"
	ae := entry("remote-admin", principal, func(ae *v1.AccessEntry) {
		ae.Spec.ClusterName = "remote"
		ae.Spec.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy)}
	})

	t.Run("without the role the cluster is not found", func(t *testing.T) {
		create(t, ae)
		waitReason(t, ae, v1.ReasonClusterNotFound, 30*time.Second)
		deleteAndWait(t, client.ObjectKeyFromObject(ae))
	})

	emu.ResetCalls()
	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: "remote"}, Spec: v1.ClusterAccessConfigSpec{
		ClusterName: "remote", RoleARN: "arn:aws:iam::" + remoteAccount + ":role/eks-access-operator", ExternalID: "platform-team"}}
	createConfig(t, cac)
	waitConfig(t, cac.Name, 30*time.Second, "to be Ready", configReady)
	ae.ResourceVersion = ""
	create(t, ae)
	waitReady(t, ae, 30*time.Second)
	var found bool
	for _, e := range emu.Entries(remoteAccount, region, "remote") {
		found = found || (e.PrincipalARN == principal && len(e.Policies) == 1)
	}
	if !found {
		t.Fatalf("the entry is not in the remote account's cluster: %+v", emu.Entries(remoteAccount, region, "remote"))
	}
	if n := calls("AssumeRole"); n == 0 {
		t.Fatalf("no sts:AssumeRole call (calls %v)", emu.Calls())
	}
}

func TestRequireClusterConfig(t *testing.T) {
	testenv.RequireControlPlane(t)
	stop, err := startManager(shardLabel+"=strict", 10*time.Minute, false, func(r *AccessEntryReconciler) { r.RequireClusterConfig = true })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	emu.ResetCalls()
	ae := entry("no-config", roleARN("no-config"), func(ae *v1.AccessEntry) { ae.Labels = map[string]string{shardLabel: "strict"} })
	create(t, ae)
	got := waitReason(t, ae, v1.ReasonNotPermitted, 30*time.Second)
	if msg := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady).Message; !strings.Contains(msg, "no ClusterAccessConfig for cluster demo") {
		t.Fatalf("message: %s", msg)
	}
	if n := writes(); n != 0 {
		t.Fatalf("%d writes for an entry the operator may not manage", n)
	}

	// An object Ready under an operator without the flag, handed to one with it
	// (as a restart with the flag would): what it held is revoked.
	held := entry("no-config-held", roleARN("no-config-held"))
	create(t, held)
	waitReady(t, held, 30*time.Second)
	update(t, held, func(ae *v1.AccessEntry) { ae.Labels = map[string]string{shardLabel: "strict"} })
	eventually(t, 30*time.Second, "the entry revoked", func() (bool, string) {
		cur := get(t, client.ObjectKeyFromObject(held))
		c := meta.FindStatusCondition(cur.Status.Conditions, v1.ConditionReady)
		_, left := emuEntry("demo", held.Spec.PrincipalARN)
		return c != nil && c.Reason == v1.ReasonNotPermitted && strings.Contains(c.Message, "revoked: the EKS access entry of "+held.Spec.PrincipalARN) && !left, conditions(cur)
	})
}

func TestPruning(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	creator, breakGlass, nodes, retained := roleARN("cluster-creator"), roleARN("break-glass-oncall"), roleARN("pruned-nodes"), roleARN("pruned-retained")
	seed := func(principal, typ string, tags map[string]string) {
		if _, err := admin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("pruned"), PrincipalArn: aws.String(principal),
			Type: aws.String(typ), Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	seed(breakGlass, "STANDARD", nil)
	seed(nodes, "EC2_LINUX", nil)
	seed(retained, "STANDARD", ownership.Owner{Instance: "another-instance", Namespace: "elsewhere", Name: "kept"}.Tags())
	managed := entry("pruned-managed", roleARN("pruned-managed"), func(ae *v1.AccessEntry) { ae.Spec.ClusterName = "pruned" })
	create(t, managed)
	waitReady(t, managed, 30*time.Second)
	t.Cleanup(func() {
		for _, p := range []string{breakGlass, nodes, retained, creator} {
			cleanupEntry(t, "pruned", p)
		}
	})
	if _, ok := emuEntry("pruned", creator); !ok {
		t.Fatal("the emulator did not make the cluster creator's admin entry")
	}
	held := len(emu.Entries(account, region, "pruned"))

	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: "pruned"}, Spec: v1.ClusterAccessConfigSpec{
		ClusterName: "pruned",
		// The creator's entry is EKS's: Delete removes it only when it is listed.
		UnmanagedEntries: v1.UnmanagedEntries{Policy: v1.UnmanagedDelete, DryRun: true,
			Protect: []string{"arn:aws:iam::" + account + ":role/break-glass-*"}, DeleteAlso: []string{creator}},
	}}
	createConfig(t, cac)
	actions := func(c *v1.ClusterAccessConfig) map[string]string {
		out := map[string]string{}
		for _, u := range c.Status.UnmanagedEntries {
			out[u.PrincipalARN] = u.Action
		}
		return out
	}
	want := map[string]string{creator: "WouldDelete", breakGlass: "Protected", nodes: "Protected", retained: "Protected"}
	got := waitConfig(t, cac.Name, 30*time.Second, "to report the unmanaged entries", configReady)
	if fmt.Sprint(actions(got)) != fmt.Sprint(want) {
		t.Fatalf("dry run: unmanaged entries %v, want %v", actions(got), want)
	}
	if n := len(emu.Entries(account, region, "pruned")); n != held {
		t.Fatalf("the dry run deleted: %d entries left of %d", n, held)
	}

	if err := k8s.Get(ctx, client.ObjectKey{Name: cac.Name}, got); err != nil {
		t.Fatal(err)
	}
	got.Spec.UnmanagedEntries.DryRun = false
	if err := k8s.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	want[creator] = "Deleted"
	got = waitConfig(t, cac.Name, 30*time.Second, "to delete the creator's entry", func(c *v1.ClusterAccessConfig) bool {
		return configReady(c) && actions(c)[creator] == "Deleted"
	})
	if fmt.Sprint(actions(got)) != fmt.Sprint(want) {
		t.Fatalf("unmanaged entries %v, want %v", actions(got), want)
	}
	if _, ok := emuEntry("pruned", creator); ok {
		t.Fatal("the cluster creator's admin entry is still there")
	}
	for _, p := range []string{breakGlass, nodes, retained, managed.Spec.PrincipalARN} {
		if _, ok := emuEntry("pruned", p); !ok {
			t.Errorf("pruning deleted %s, which it must keep", p)
		}
	}
}

// TestClusterAccessConfigControllerAlone runs the ClusterAccessConfig controller in
// a manager of its own, with the sweeper and a budget but no AccessEntry
// controller, as an instance that only prunes would: the AccessEntry index it
// lists through, and the budget's grants, must not depend on the AccessEntry
// controller being there.
func TestClusterAccessConfigControllerAlone(t *testing.T) {
	testenv.RequireControlPlane(t)
	op := testManager{configsOnly: true, resync: time.Hour, sweep: time.Second, logger: logr.Discard()}.startFor(t)
	r, ctx := op.configs, context.Background()

	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: "alone"}, Spec: v1.ClusterAccessConfigSpec{ClusterName: "other"}}
	createConfig(t, cac)
	// Reconcile reads the manager's cache: wait until it holds the new config.
	eventually(t, 10*time.Second, "the manager's cache to hold the config", func() (bool, string) {
		err := op.mgr.GetClient().Get(ctx, client.ObjectKeyFromObject(cac), &v1.ClusterAccessConfig{})
		return err == nil, fmt.Sprint(err)
	})
	// Called directly, so that the suite's own manager, which also reconciles
	// every ClusterAccessConfig, cannot stand in for this one.
	res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: cac.Name}})
	if err != nil || res.RequeueAfter == 0 {
		t.Fatalf("Reconcile = %+v, %v", res, err)
	}
	waitConfig(t, cac.Name, 10*time.Second, "to be Ready", configReady)
}
