package controllers

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
)

func entryWith(name, cluster, region string, conds ...metav1.Condition) v1.AccessEntry {
	ae := v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
	ae.Spec.ClusterName, ae.Spec.Region = cluster, region
	ae.Status.Conditions = conds
	return ae
}

func cond(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason}
}

func TestCountEntries(t *testing.T) {
	recorded := entryWith("recorded", "demo", "")
	recorded.Status.Identity = &v1.EntryIdentity{Region: "eu-west-1"}
	entries := []v1.AccessEntry{
		entryWith("a", "demo", "us-west-2", cond(v1.ConditionReady, metav1.ConditionTrue, v1.ReasonSynced)),
		entryWith("b", "demo", "us-west-2", cond(v1.ConditionReady, metav1.ConditionTrue, v1.ReasonSynced)),
		entryWith("c", "demo", "us-west-2",
			cond(v1.ConditionReady, metav1.ConditionFalse, v1.ReasonAccessDenied),
			cond(v1.ConditionStalled, metav1.ConditionTrue, v1.ReasonAccessDenied)),
		entryWith("d", "demo", "us-west-2",
			cond(v1.ConditionReady, metav1.ConditionFalse, v1.ReasonThrottled),
			cond(v1.ConditionReconciling, metav1.ConditionTrue, v1.ReasonThrottled)),
		entryWith("new", "other", ""),
		recorded,
	}
	got := CountEntries(entries, "us-east-1")
	want := map[EntryStatusKey]int{
		{Cluster: "demo", Region: "us-west-2", Ready: "True", Reason: v1.ReasonSynced}:                       2,
		{Cluster: "demo", Region: "us-west-2", Ready: "False", Reason: v1.ReasonAccessDenied, Stalled: true}: 1,
		{Cluster: "demo", Region: "us-west-2", Ready: "False", Reason: v1.ReasonThrottled}:                   1,
		// Not reconciled yet, and without spec.region: the operator's region.
		{Cluster: "other", Region: "us-east-1", Ready: "Unknown"}: 1,
		// Without spec.region, the region recorded when the entry was created.
		{Cluster: "demo", Region: "eu-west-1", Ready: "Unknown"}: 1,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d series %v, want %d %v", len(got), got, len(want), want)
	}
	for k, n := range want {
		if c, ok := got[k]; !ok || c != n {
			t.Errorf("%+v: got %d (present %v), want %d", k, c, ok, n)
		}
	}
}

func TestEntryCollectorServesOnlyTheLeader(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	stalled := entryWith("c", "demo", "us-west-2",
		cond(v1.ConditionReady, metav1.ConditionFalse, v1.ReasonAccessDenied),
		cond(v1.ConditionStalled, metav1.ConditionTrue, v1.ReasonAccessDenied))
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(&stalled).Build()

	elected := make(chan struct{})
	c := &entryCollector{reader: reader, elected: elected, defaultRegion: "us-west-2"}
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Fatalf("a standby replica served %d series, want none", n)
	}
	close(elected)
	want := `
# HELP eks_access_operator_access_entries ` + accessEntriesHelp + `
# TYPE eks_access_operator_access_entries gauge
eks_access_operator_access_entries{cluster="demo",ready="False",reason="AccessDenied",region="us-west-2",stalled="true"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

func TestCountAdminHolders(t *testing.T) {
	const admin, view = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSSecretReaderPolicy", "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
	holding := func(name string, policies ...string) v1.AccessEntry {
		ae := entryWith(name, "demo", "")
		ae.Status.Identity = &v1.EntryIdentity{ClusterName: "demo", Region: "eu-west-1"}
		ae.Status.AccessEntryARN = "arn:aws:eks:eu-west-1:111122223333:access-entry/demo/role/111122223333/" + name + "/x"
		for _, p := range policies {
			ae.Status.AccessPolicies = append(ae.Status.AccessPolicies, v1.AssociatedAccessPolicy{PolicyARN: p})
		}
		return ae
	}
	notHeld := holding("refused", admin)
	notHeld.Status.AccessEntryARN = ""
	cac := v1.ClusterAccessConfig{Spec: v1.ClusterAccessConfigSpec{ClusterName: "demo"}}
	cac.Status.Target = &v1.ClusterTarget{Region: "eu-west-1"}
	cac.Status.UnmanagedEntries = []v1.UnmanagedEntry{
		{PrincipalARN: "creator", Action: "Kept", AdminEquivalent: true, MadeByEKS: guardrails.CreatorEntry},
		// Made by hand along with the cluster, it looks like the creator's too: one of the two is not.
		{PrincipalARN: "terraform", Action: "Kept", AdminEquivalent: true, MadeByEKS: guardrails.CreatorEntry},
		{PrincipalARN: "node", Action: "Kept", AdminEquivalent: true, MadeByEKS: "its type is EC2"},
		{PrincipalARN: "by-hand", Action: "Kept", AdminEquivalent: true},
		{PrincipalARN: "by-hand-2", Action: "WouldDelete", AdminEquivalent: true},
		{PrincipalARN: "viewer", Action: "Kept"},
		{PrincipalARN: "gone", Action: "Deleted", AdminEquivalent: true},
	}
	elsewhere := holding("elsewhere", view)
	elsewhere.Status.Identity.ClusterName = "other"
	got := CountAdminHolders([]v1.AccessEntry{holding("admins", view, admin), holding("viewers", view), notHeld, elsewhere}, []v1.ClusterAccessConfig{cac})
	want := map[HolderKey]int{
		{Cluster: "demo", Region: "eu-west-1", Origin: OriginDeclared}:  1,
		{Cluster: "demo", Region: "eu-west-1", Origin: OriginEKS}:       2,
		{Cluster: "demo", Region: "eu-west-1", Origin: OriginUnmanaged}: 3,
		// A cluster with no admin holder has its series, at 0.
		{Cluster: "other", Region: "eu-west-1", Origin: OriginDeclared}:  0,
		{Cluster: "other", Region: "eu-west-1", Origin: OriginEKS}:       0,
		{Cluster: "other", Region: "eu-west-1", Origin: OriginUnmanaged}: 0,
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, n := range want {
		if c, ok := got[k]; !ok || c != n {
			t.Errorf("%+v: got %d (present %v), want %d", k, c, ok, n)
		}
	}
}
