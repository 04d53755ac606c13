// Package controllers holds the reconcilers of the operator and the narrow EKS
// interface they call.
package controllers

// The manager's permissions, generated into config/rbac/role.yaml by `make manifests`.
// +kubebuilder:rbac:groups=eksaccess.io,resources=accessentries,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=eksaccess.io,resources=accessentries/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=eksaccess.io,resources=accessentries/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
