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
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// EKS as it is: EKS Auto Mode node roles with their policy, the entries EKS makes
// itself, refusals that come from outside the spec, and roles that do not trust
// the operator. The clusters and the role are in the suite's emulator
// (fidelityClusters, trustingRole).

const fidelityShard = "fidelity"

var (
	trustingRole = "arn:aws:iam::" + remoteAccount + ":role/eks-access-operator-trusting"
	autoNode     = awsarn.PolicyARN("aws", "AmazonEKSAutoNodePolicy")
)

// fidelityClusters are the suite's clusters for these tests: one in EKS Auto Mode,
// one holding every kind of entry EKS makes, one for tags, and one in another
// account behind a role that asks for an external ID.
func fidelityClusters() []eksemulator.ClusterConfig {
	return []eksemulator.ClusterConfig{
		{Name: "automode", Account: account, Region: region, AuthenticationMode: "API",
			AutoMode: &eksemulator.AutoModeConfig{ClusterRoleARN: roleARN("automode-cluster"), NodeRoleARN: roleARN("automode-nodes")}},
		{Name: "eksmade", Account: account, Region: region, AuthenticationMode: "API", CreatorAdmin: roleARN("eksmade-creator"),
			NodeGroups: []eksemulator.NodeGroupConfig{
				{Name: "linux", NodeRoleARN: roleARN("eksmade-linux-nodes")},
				{Name: "windows", NodeRoleARN: roleARN("eksmade-windows-nodes"), Windows: true},
			},
			FargateProfiles: []eksemulator.FargateProfileConfig{{Name: "default", PodExecutionRoleARN: roleARN("eksmade-fargate")}},
			AutoMode:        &eksemulator.AutoModeConfig{ClusterRoleARN: roleARN("eksmade-auto-cluster"), NodeRoleARN: roleARN("eksmade-auto-nodes")},
			Capabilities: []eksemulator.CapabilityConfig{
				{Name: "argocd", Type: "ARGOCD", RoleARN: roleARN("eksmade-argocd")},
				{Name: "ack", Type: "ACK", RoleARN: roleARN("eksmade-ack")},
				{Name: "kro", Type: "KRO", RoleARN: roleARN("eksmade-kro")},
			}},
		{Name: "tagged", Account: account, Region: region, AuthenticationMode: "API"},
		{Name: "trusting", Account: remoteAccount, Region: region, AuthenticationMode: "API"},
	}
}

// fidelityRoles: the role of "trusting" lets the operator's account in with one
// external ID only.
func fidelityRoles() []eksemulator.RoleTrust {
	return []eksemulator.RoleTrust{{RoleARN: trustingRole, TrustedAccounts: []string{account}, ExternalID: "the-right-id"}}
}

// startFidelityManager runs a manager that re-reads its objects every 2 seconds,
// so that drift is put back within a test.
func startFidelityManager(t *testing.T) func(*v1.AccessEntry) {
	t.Helper()
	stop, err := startManager(shardLabel+"="+fidelityShard, 2*time.Second, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return func(ae *v1.AccessEntry) { ae.Labels = map[string]string{shardLabel: fidelityShard} }
}

func emuPolicy(e eksemulator.Entry, arn string) (eksemulator.Policy, bool) {
	i := slices.IndexFunc(e.Policies, func(p eksemulator.Policy) bool { return p.PolicyARN == arn })
	if i < 0 {
		return eksemulator.Policy{}, false
	}
	return e.Policies[i], true
}

// A custom node class of EKS Auto Mode needs an EC2 entry for its node role with
// AmazonEKSAutoNodePolicy at cluster scope: the operator makes it, and puts the
// policy back when it is disassociated out of band.
func TestAutoModeNodeClassEntry(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	shard := startFidelityManager(t)
	ae := entry("automode-nodeclass", roleARN("automode-custom-nodeclass"), shard, func(ae *v1.AccessEntry) {
		ae.Spec.ClusterName, ae.Spec.Type = "automode", v1.TypeEC2
		ae.Spec.AccessPolicies = []v1.AccessPolicy{{PolicyARN: autoNode, AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}}}
	})
	create(t, ae)
	waitReady(t, ae, 30*time.Second)
	e := mustEmuEntry(t, "automode", ae.Spec.PrincipalARN)
	if p, ok := emuPolicy(e, autoNode); e.Type != "EC2" || !ok || p.ScopeType != "cluster" {
		t.Fatalf("entry %+v: want type EC2 with %s at cluster scope", e, autoNode)
	}

	if _, err := admin.DisassociateAccessPolicy(ctx, &eks.DisassociateAccessPolicyInput{ClusterName: aws.String("automode"),
		PrincipalArn: aws.String(ae.Spec.PrincipalARN), PolicyArn: aws.String(autoNode)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "AmazonEKSAutoNodePolicy associated again", func() (bool, string) {
		e, _ := emuEntry("automode", ae.Spec.PrincipalARN)
		_, ok := emuPolicy(e, autoNode)
		return ok, fmt.Sprint(e.Policies)
	})
	waitReady(t, ae, 30*time.Second)

	// The node role Auto Mode itself uses got its entry from EKS, and the operator
	// never saw it: it is still there, untouched.
	if e := mustEmuEntry(t, "automode", roleARN("automode-nodes")); e.Type != "EC2" {
		t.Fatalf("EKS's own Auto Mode node entry: %+v", e)
	}
}

// Pruning with Delete on a cluster that holds every kind of entry EKS makes
// deletes the user entries no AccessEntry declares, and nothing else; status says
// why each of EKS's is kept.
func TestPruningKeepsWhatEKSMade(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	const cluster = "eksmade"
	var eksMade []string
	kinds := map[string]bool{}
	for _, e := range emu.Entries(account, region, cluster) {
		eksMade = append(eksMade, e.PrincipalARN)
		kind := e.Type
		for _, p := range e.Policies {
			kind += "+" + p.PolicyARN[strings.LastIndex(p.PolicyARN, "/")+1:]
		}
		kinds[kind] = true
	}
	// Every kind: the creator, node groups (Linux and Windows), a Fargate profile,
	// EKS Auto Mode's cluster role and node role, and three capabilities.
	if len(eksMade) != 9 || !kinds["EC2_LINUX"] || !kinds["EC2_WINDOWS"] || !kinds["FARGATE_LINUX"] || !kinds["EC2+AmazonEKSAutoNodePolicy"] ||
		!kinds["STANDARD+AmazonEKSClusterAdminPolicy"] {
		t.Fatalf("the emulator made %d entries of kinds %v", len(eksMade), kinds)
	}

	alice, bob := roleARN("eksmade-alice"), "arn:aws:iam::"+account+":user/eksmade-bob"
	if _, err := admin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(alice)}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(alice),
		PolicyArn: aws.String(viewPolicy), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster}}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(bob),
		KubernetesGroups: []string{"viewers"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupEntry(t, cluster, alice); cleanupEntry(t, cluster, bob) })
	managed := entry("eksmade-managed", roleARN("eksmade-managed"), func(ae *v1.AccessEntry) { ae.Spec.ClusterName = cluster })
	create(t, managed)
	waitReady(t, managed, 30*time.Second)

	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cluster}, Spec: v1.ClusterAccessConfigSpec{
		ClusterName: cluster, UnmanagedEntries: v1.UnmanagedEntries{Policy: v1.UnmanagedDelete}}}
	createConfig(t, cac)
	got := waitConfig(t, cluster, 30*time.Second, "to delete the two user entries", func(c *v1.ClusterAccessConfig) bool {
		deleted := 0
		for _, u := range c.Status.UnmanagedEntries {
			if u.Action == "Deleted" {
				deleted++
			}
		}
		return configReady(c) && deleted == 2
	})
	for _, u := range got.Status.UnmanagedEntries {
		switch {
		case u.PrincipalARN == alice || u.PrincipalARN == bob:
			if u.Action != "Deleted" {
				t.Errorf("%s: %s, want Deleted", u.PrincipalARN, u.Action)
			}
		case !slices.Contains(eksMade, u.PrincipalARN):
			t.Errorf("status lists %s, which is neither EKS's nor a user's: %+v", u.PrincipalARN, u)
		case u.Action != "Protected" || !strings.Contains(u.Reason, "EKS made it") || !strings.Contains(u.Reason, "deleteAlso"):
			t.Errorf("EKS's entry of %s: %s (%q), want Protected with the reason and the way out", u.PrincipalARN, u.Action, u.Reason)
		}
	}
	var left []string
	for _, e := range emu.Entries(account, region, cluster) {
		left = append(left, e.PrincipalARN)
	}
	want := append(slices.Clone(eksMade), managed.Spec.PrincipalARN)
	slices.Sort(want)
	slices.Sort(left)
	if !slices.Equal(left, want) {
		t.Fatalf("entries left %v, want EKS's and the managed one: %v", left, want)
	}
}

// Tags set out of band can fill the 50 EKS allows, so that the spec's new tag no
// longer fits. That is no fault of the spec: the object reports RefusedByEKS,
// keeps correcting the rest of the entry meanwhile, and becomes Ready once the
// room is made.
func TestFrozenByOutOfBandTags(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	shard := startFidelityManager(t)
	ae := entry("tagged-app", roleARN("tagged-app"), shard, func(ae *v1.AccessEntry) {
		ae.Spec.ClusterName = "tagged"
		ae.Spec.Tags = map[string]v1.TagValue{"team": "a"}
		ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"viewers"}
		ae.Spec.AccessPolicies = []v1.AccessPolicy{{PolicyARN: viewPolicy, AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}}}
	})
	create(t, ae)
	ae = waitReady(t, ae, 30*time.Second)
	entryARN := ae.Status.AccessEntryARN

	// Someone fills the room left: 3 ownership tags, 1 of the spec, 46 of theirs.
	theirs := map[string]string{}
	for i := range v1.MaxEntryTags - v1.ReservedTagCount - 1 {
		theirs[fmt.Sprintf("cost-center-%02d", i)] = "finance"
	}
	if _, err := admin.TagResource(ctx, &eks.TagResourceInput{ResourceArn: aws.String(entryARN), Tags: theirs}); err != nil {
		t.Fatal(err)
	}
	ae = update(t, ae, func(ae *v1.AccessEntry) {
		ae.Spec.Tags["env"] = "prod"
		ae.Spec.KubernetesGroups = append(ae.Spec.KubernetesGroups, "editors")
	})
	cur := waitReason(t, ae, v1.ReasonRefusedByEKS, 30*time.Second)
	stalled := meta.FindStatusCondition(cur.Status.Conditions, v1.ConditionStalled)
	if stalled == nil || stalled.Status != metav1.ConditionTrue || !strings.Contains(stalled.Message, "untag-resource") || !strings.Contains(stalled.Message, "eks:TagResource") {
		t.Fatalf("conditions %s: want Stalled naming the refused call and the fix", conditions(cur))
	}
	// The group change went through although the tags did not.
	if e := mustEmuEntry(t, "tagged", ae.Spec.PrincipalARN); !slices.Equal(e.KubernetesGroups, []string{"editors", "viewers"}) {
		t.Fatalf("groups %v: the update was held back by the refused tags", e.KubernetesGroups)
	}

	// Drift healing stays on while the tags are refused.
	if _, err := admin.DisassociateAccessPolicy(ctx, &eks.DisassociateAccessPolicyInput{ClusterName: aws.String("tagged"),
		PrincipalArn: aws.String(ae.Spec.PrincipalARN), PolicyArn: aws.String(viewPolicy)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the disassociated policy put back while the tags are refused", func() (bool, string) {
		e, _ := emuEntry("tagged", ae.Spec.PrincipalARN)
		_, ok := emuPolicy(e, viewPolicy)
		return ok, fmt.Sprint(e.Policies)
	})
	if c := meta.FindStatusCondition(get(t, client.ObjectKeyFromObject(ae)).Status.Conditions, v1.ConditionReady); c == nil || c.Reason != v1.ReasonRefusedByEKS {
		t.Fatalf("Ready %+v: the tags still do not fit, so it must still say RefusedByEKS", c)
	}

	// The room is made: the spec's tag goes on and the object is Ready.
	keys := make([]string, 0, len(theirs))
	for k := range theirs {
		keys = append(keys, k)
	}
	if _, err := admin.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: aws.String(entryARN), TagKeys: keys}); err != nil {
		t.Fatal(err)
	}
	waitReady(t, ae, 30*time.Second)
	if e := mustEmuEntry(t, "tagged", ae.Spec.PrincipalARN); e.Tags["env"] != "prod" || e.Tags["team"] != "a" {
		t.Fatalf("tags %v: want the spec's", e.Tags)
	}
}

// A ClusterAccessConfig whose external ID the role's trust policy does not accept
// leaves its AccessEntries AccessDenied, naming the role and what to check; the
// right external ID lets them through.
func TestWrongExternalID(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: "trusting"}, Spec: v1.ClusterAccessConfigSpec{
		ClusterName: "trusting", RoleARN: trustingRole, ExternalID: "a-wrong-id"}}
	createConfig(t, cac)
	ae := entry("trusting-app", "arn:aws:iam::"+remoteAccount+":role/trusting-app", func(ae *v1.AccessEntry) { ae.Spec.ClusterName = "trusting" })
	create(t, ae)
	cur := waitReason(t, ae, v1.ReasonAccessDenied, 30*time.Second)
	c := meta.FindStatusCondition(cur.Status.Conditions, v1.ConditionReady)
	for _, want := range []string{"STS refused", trustingRole, "external", "trust policy", "sts:AssumeRole"} {
		if !strings.Contains(c.Message, want) {
			t.Fatalf("message %q does not say %q", c.Message, want)
		}
	}
	waitConfig(t, cac.Name, 30*time.Second, "to report AccessDenied", func(c *v1.ClusterAccessConfig) bool {
		r := meta.FindStatusCondition(c.Status.Conditions, v1.ConditionReady)
		return r != nil && r.Reason == v1.ReasonAccessDenied && strings.Contains(r.Message, trustingRole)
	})
	if len(emu.Entries(remoteAccount, region, "trusting")) != 0 {
		t.Fatal("an entry was made through a role the operator may not assume")
	}

	got := &v1.ClusterAccessConfig{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: cac.Name}, got); err != nil {
		t.Fatal(err)
	}
	got.Spec.ExternalID = "the-right-id"
	if err := k8s.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	waitReady(t, ae, 30*time.Second)
	if e := emu.Entries(remoteAccount, region, "trusting"); len(e) != 1 || e[0].PrincipalARN != ae.Spec.PrincipalARN {
		t.Fatalf("entries of trusting: %+v", e)
	}
}
