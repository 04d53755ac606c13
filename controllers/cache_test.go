package controllers

import (
	"encoding/json"
	"fmt"
	"maps"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

func TestCacheTransformDropsWhatIsNeverRead(t *testing.T) {
	ae := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{
		Name: "x",
		Annotations: map[string]string{
			lastAppliedAnnotation: `{"apiVersion":"eksaccess.io/v1alpha1","kind":"AccessEntry"}`,
			v1.AdoptAnnotation:    "true",
		},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
	}}
	out, err := CacheTransform()(ae)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*v1.AccessEntry)
	if got.ManagedFields != nil {
		t.Errorf("managedFields kept: %v", got.ManagedFields)
	}
	if want := map[string]string{v1.AdoptAnnotation: "true"}; !maps.Equal(got.Annotations, want) {
		t.Errorf("annotations %v, want %v", got.Annotations, want)
	}

	plain := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: "y", Annotations: map[string]string{"team": "a"}}}
	if out, err := CacheTransform()(plain); err != nil || !maps.Equal(out.(*v1.AccessEntry).Annotations, map[string]string{"team": "a"}) {
		t.Errorf("an object without the annotation came out as %v (%v)", out, err)
	}
}

// An object applied with client-side kubectl apply: the operator's cache lacks the
// annotation, and its finalizer and status patches must leave it on the server.
func TestLastAppliedAnnotationSurvivesOnTheServer(t *testing.T) {
	testenv.RequireControlPlane(t)
	const applied = `{"apiVersion":"eksaccess.io/v1alpha1","kind":"AccessEntry","metadata":{"name":"kubectl-applied"}}`
	ae := entry("kubectl-applied", roleARN("kubectl-applied"), func(ae *v1.AccessEntry) {
		ae.Annotations = map[string]string{lastAppliedAnnotation: applied}
	})
	create(t, ae)
	cur := waitReady(t, ae, 30*time.Second)
	if cur.Annotations[lastAppliedAnnotation] != applied {
		t.Fatalf("the server lost the last-applied annotation: %v", cur.Annotations)
	}
	if len(cur.Finalizers) != 1 || cur.Finalizers[0] != v1.Finalizer {
		t.Fatalf("finalizers %v", cur.Finalizers)
	}
	deleteAndWait(t, client.ObjectKeyFromObject(ae))
}

// Two entries decoded apart come out of the cache transform unchanged in value,
// with their shared strings (cluster, policy ARN, condition message) in one copy,
// and their own (principal ARN) still their own.
func TestCacheTransformSharesRepeatedStrings(t *testing.T) {
	decode := func(principal string) *v1.AccessEntry {
		raw := `{"apiVersion":"eksaccess.io/v1alpha1","kind":"AccessEntry",
			"metadata":{"name":"x","namespace":"platform","finalizers":["eksaccess.io/finalizer"]},
			"spec":{"clusterName":"prod","region":"eu-west-1","principalARN":"` + principal + `",
				"kubernetesGroups":["viewers"],
				"accessPolicies":[{"policyARN":"arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy","accessScope":{"type":"namespace","namespaces":["apps"]}}]},
			"status":{"conditions":[{"type":"Ready","status":"True","reason":"Synced","message":"the EKS access entry matches the spec","lastTransitionTime":"2026-01-01T00:00:00Z"}],
				"identity":{"clusterName":"prod","region":"eu-west-1","account":"111122223333","partition":"aws","principalARN":"` + principal + `","type":"STANDARD"},
				"kubernetesGroups":["viewers"],"managedTags":["team"]}}`
		ae := &v1.AccessEntry{}
		if err := json.Unmarshal([]byte(raw), ae); err != nil {
			t.Fatal(err)
		}
		return ae
	}
	a, b := decode("arn:aws:iam::111122223333:role/a"), decode("arn:aws:iam::111122223333:role/b")
	wantA := a.DeepCopy()
	for _, ae := range []*v1.AccessEntry{a, b} {
		if _, err := CacheTransform()(ae); err != nil {
			t.Fatal(err)
		}
	}
	if !equality.Semantic.DeepEqual(a, wantA) {
		t.Fatalf("the transform changed the entry:\n%+v\nwant\n%+v", a, wantA)
	}
	same := func(what, x, y string) {
		t.Helper()
		if unsafe.StringData(x) != unsafe.StringData(y) {
			t.Errorf("%s %q is held twice", what, x)
		}
	}
	same("spec.clusterName", a.Spec.ClusterName, b.Spec.ClusterName)
	same("the policy ARN", a.Spec.AccessPolicies[0].PolicyARN, b.Spec.AccessPolicies[0].PolicyARN)
	same("status.identity.clusterName and spec.clusterName", a.Status.Identity.ClusterName, b.Spec.ClusterName)
	same("the Ready message", a.Status.Conditions[0].Message, b.Status.Conditions[0].Message)
	same("the namespace", a.Namespace, b.Namespace)
	same("the group", string(a.Spec.KubernetesGroups[0]), b.Status.KubernetesGroups[0])
	if unsafe.StringData(a.Spec.PrincipalARN) == unsafe.StringData(a.Status.Identity.PrincipalARN) {
		t.Errorf("the principal ARN, one object's own, was interned")
	}
}

// BenchmarkCachedEntryBytes reports the live heap one cached AccessEntry takes
// after the cache transform, for entries shaped like the benchmark's: decoded apart,
// alike in cluster, policies, groups and conditions. Run it with
// -run '^$' -bench CachedEntryBytes ./controllers/.
func BenchmarkCachedEntryBytes(b *testing.B) {
	const n = 2000
	raw := func(i int) []byte {
		principal := fmt.Sprintf("arn:aws:iam::111122223333:role/team-%04d", i)
		return []byte(`{"apiVersion":"eksaccess.io/v1alpha1","kind":"AccessEntry",
			"metadata":{"name":"entry-` + fmt.Sprint(i) + `","namespace":"platform","uid":"` + fmt.Sprintf("0b7e5c3a-0000-4000-8000-%012d", i) + `",
				"resourceVersion":"` + fmt.Sprint(100000+i) + `","generation":1,"creationTimestamp":"2026-01-01T00:00:00Z",
				"finalizers":["eksaccess.io/finalizer"],"labels":{"team":"payments"}},
			"spec":{"clusterName":"prod","region":"eu-west-1","principalARN":"` + principal + `",
				"kubernetesGroups":["viewers","deployers"],"tags":{"team":"payments"},
				"accessPolicies":[{"policyARN":"arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy","accessScope":{"type":"namespace","namespaces":["apps"]}}]},
			"status":{"observedGeneration":1,"conditions":[
				{"type":"Ready","status":"True","reason":"Synced","message":"the EKS access entry matches the spec","lastTransitionTime":"2026-01-01T00:00:00Z","observedGeneration":1},
				{"type":"Reconciling","status":"False","reason":"Synced","message":"the EKS access entry matches the spec","lastTransitionTime":"2026-01-01T00:00:00Z","observedGeneration":1}],
				"accessEntryARN":"arn:aws:eks:eu-west-1:111122223333:access-entry/prod/role/111122223333/team-` + fmt.Sprintf("%04d", i) + `/8ac1b2c3-d4e5-f607-1829-3a4b5c6d7e8f",
				"identity":{"clusterName":"prod","region":"eu-west-1","account":"111122223333","partition":"aws","principalARN":"` + principal + `","type":"STANDARD"},
				"username":"arn:aws:sts::111122223333:assumed-role/team-` + fmt.Sprintf("%04d", i) + `/{{SessionName}}",
				"kubernetesGroups":["viewers","deployers"],"managedTags":["team"],
				"accessPolicies":[{"policyARN":"arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy","accessScope":{"type":"namespace","namespaces":["apps"]},"associatedAt":"2026-01-01T00:00:00Z","modifiedAt":"2026-01-01T00:00:00Z"}],
				"lastVerifiedAt":"2026-01-01T00:00:00Z","createdAt":"2026-01-01T00:00:00Z","modifiedAt":"2026-01-01T00:00:00Z"}}`)
	}
	docs := make([][]byte, n)
	for i := range docs {
		docs[i] = raw(i)
	}
	transform := CacheTransform()
	live := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var perEntry float64
	for b.Loop() {
		before := live()
		held := make([]*v1.AccessEntry, n)
		for i, doc := range docs {
			ae := &v1.AccessEntry{}
			if err := json.Unmarshal(doc, ae); err != nil {
				b.Fatal(err)
			}
			if _, err := transform(ae); err != nil {
				b.Fatal(err)
			}
			held[i] = ae
		}
		perEntry = float64(live()-before) / n
		runtime.KeepAlive(held)
	}
	b.ReportMetric(perEntry, "B/entry")
}
