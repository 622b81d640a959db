//go:build tools

// Package tools pins etcd, the store of the test Kubernetes API server.
package tools

import _ "go.etcd.io/etcd/server/v3"
