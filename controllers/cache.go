package controllers

import (
	"k8s.io/apimachinery/pkg/api/meta"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// lastAppliedAnnotation is where client-side kubectl apply (and Argo CD, which
// uses it by default) keeps a second copy of the whole object.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// CacheTransform trims what the operator never reads from the objects its cache
// holds: managedFields, and the last-applied-configuration annotation. Together
// they are most of an AccessEntry's size in memory. Patches are computed between
// two copies of the cached object, so neither is ever written back or removed.
func CacheTransform() toolscache.TransformFunc {
	strip := cache.TransformStripManagedFields()
	return func(obj any) (any, error) {
		obj, err := strip(obj)
		if err != nil {
			return obj, err
		}
		if a, err := meta.Accessor(obj); err == nil {
			if ann := a.GetAnnotations(); ann[lastAppliedAnnotation] != "" {
				kept := make(map[string]string, len(ann)-1)
				for k, v := range ann {
					if k != lastAppliedAnnotation {
						kept[k] = v
					}
				}
				a.SetAnnotations(kept)
			}
		}
		return obj, nil
	}
}
