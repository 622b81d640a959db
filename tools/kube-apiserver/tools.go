//go:build tools

// Package tools pins kube-apiserver, the real API server of the e2e
// tests, and kubectl of the same release, which the tests compare
// monctl with.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
