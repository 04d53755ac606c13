package controllers

import (
	"maps"
	"testing"
	"time"

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
