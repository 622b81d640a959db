//go:build tools

// Package tools pins kube-apiserver, the real API server of the e2e tests.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
