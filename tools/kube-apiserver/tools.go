//go:build tools

// Package tools pins the Kubernetes release whose kube-apiserver
// `make e2e-k8s` builds. It lives in its own module so that Kubernetes'
// dependencies never enter matrixgen's go.mod. k8s.io/kubernetes names
// its staging modules (k8s.io/api, k8s.io/apiserver, ...) at v0.0.0 and
// replaces them with directories of its own repository; go.mod here
// replaces them with the releases published for the same Kubernetes
// release, v0.37.2 for v1.37.2.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
