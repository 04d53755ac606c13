//go:build tools

// Package tools pins the Kubernetes binaries that envtest runs (kube-apiserver, kubectl).
// They are built from source here because no prebuilt binary can be downloaded.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
