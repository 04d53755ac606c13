package controllers

import (
	"unique"

	"k8s.io/apimachinery/pkg/api/meta"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// lastAppliedAnnotation is where client-side kubectl apply (and Argo CD, which
// uses it by default) keeps a second copy of the whole object.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// CacheTransform trims what the operator never reads from the objects its cache
// holds: managedFields, and the last-applied-configuration annotation. Together
// they are most of an AccessEntry's size in memory. Patches are computed between
// two copies of the cached object, so neither is ever written back or removed.
// What is left of an AccessEntry shares its repeated strings with the other
// cached entries (internStrings).
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
		if ae, ok := obj.(*v1.AccessEntry); ok {
			internStrings(ae)
		}
		return obj, nil
	}
}

// internStrings makes the strings of ae that thousands of entries hold alike (the
// cluster, region and account, policy ARNs and scopes, groups, condition types,
// reasons and messages, the namespace and finalizer) point at one shared copy each.
// Decoding gives every object its own copies: at 10,000 entries those are several
// MiB. Strings that are one object's own (names, principal and entry ARNs, UIDs)
// are left alone: interning them would only add the table's cost. Strings are
// immutable, so sharing them is safe for every reader and for DeepCopy.
func internStrings(ae *v1.AccessEntry) {
	in := func(s *string) {
		if *s != "" {
			*s = unique.Make(*s).Value()
		}
	}
	in(&ae.Namespace)
	in(&ae.APIVersion)
	in(&ae.Kind)
	for i := range ae.Finalizers {
		in(&ae.Finalizers[i])
	}

	internSpec(&ae.Spec, in)
	internStatus(&ae.Status, in)
}

// internSpec interns the spec's shared strings with in.
func internSpec(s *v1.AccessEntrySpec, in func(*string)) {
	in(&s.ClusterName)
	in(&s.Region)
	in((*string)(&s.Type))
	in((*string)(&s.DeletionPolicy))
	for i := range s.KubernetesGroups {
		in((*string)(&s.KubernetesGroups[i]))
	}
	for i := range s.AccessPolicies {
		p := &s.AccessPolicies[i]
		in(&p.PolicyARN)
		in((*string)(&p.AccessScope.Type))
		for j := range p.AccessScope.Namespaces {
			in((*string)(&p.AccessScope.Namespaces[j]))
		}
	}
}

// internStatus interns the status's shared strings with in.
func internStatus(st *v1.AccessEntryStatus, in func(*string)) {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		in(&c.Type)
		in((*string)(&c.Status))
		in(&c.Reason)
		in(&c.Message)
	}
	if id := st.Identity; id != nil {
		in(&id.ClusterName)
		in(&id.Region)
		in(&id.Account)
		in(&id.Partition)
		in((*string)(&id.Type))
	}
	in(&st.RoleARN)
	for i := range st.KubernetesGroups {
		in(&st.KubernetesGroups[i])
	}
	for i := range st.AccessPolicies {
		p := &st.AccessPolicies[i]
		in(&p.PolicyARN)
		in((*string)(&p.AccessScope.Type))
		for j := range p.AccessScope.Namespaces {
			in(&p.AccessScope.Namespaces[j])
		}
	}
	for i := range st.ManagedTags {
		in(&st.ManagedTags[i])
	}
}
