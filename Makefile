# monctl's tasks. Test programs (node_exporter, prom2json, goreleaser,
# Engine 29's dockerd, runc, Prometheus and promtool) are built from the Go
# module proxy into .tools/bin, each from its own module under tools/, so
# their dependencies never touch the product's go.mod and reruns are cheap.

SHELL     := /bin/bash
GO        ?= go
TOOLS_BIN := $(CURDIR)/.tools/bin
PKG       := github.com/monctl/monctl/internal/buildinfo
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE      ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
LDFLAGS   := -s -w -X $(PKG).Version=$(VERSION) -X $(PKG).Commit=$(COMMIT) -X $(PKG).Date=$(DATE)

.PHONY: all build test e2e demo docker-engine sink-servers browser check lint completions man bench fuzz release-check tools clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/monctl ./cmd/monctl

## check: everything CI runs (the README's test command)
check: lint release-check test e2e

test:
	$(GO) test -race -count=1 ./...

# The e2e tests start a sandboxed Docker engine of their own (docs/architecture.md, Tests)
# and stop it when they end; the pkill only catches one left behind by a
# test binary that was killed.
e2e: tools docker-engine sink-servers browser
	mkdir -p e2e-artifacts
	MONCTL_TOOLS_BIN=$(TOOLS_BIN) $(GO) test -race -count=1 -tags e2e -timeout 20m -artifacts -outputdir $(CURDIR)/e2e-artifacts ./e2e/...; \
	status=$$?; pkill -TERM -f 'dockerd[-0-9]* --host unix://[^ ]*/monctl-e2e-' || true; exit $$status

## demo: something real to watch on a fresh machine: the sandboxed engine
## with a few workload containers and a node_exporter, and 'monctl watch
## containers' on it; quitting the view stops everything (needs root for
## dockerd, as make e2e does)
demo: build $(TOOLS_BIN)/node_exporter docker-engine
	$(GO) run ./scripts/demo -monctl bin/monctl -node-exporter $(TOOLS_BIN)/node_exporter

## docker-engine: Debian's docker.io (dockerd, containerd, runc, docker), tmux for
## the live views, libseccomp-dev for building Engine 29's runc, openssh
## for ssh:// engines and podman for its Docker-compatible API. RUNLEVEL=1
## keeps the packages from starting their services (sshd on 0.0.0.0:22,
## the system dockerd): the tests start their own, on loopback only.
docker-engine:
	@if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null || ! command -v tmux >/dev/null || ! pkg-config --exists libseccomp 2>/dev/null || \
		! test -x /usr/sbin/sshd || ! command -v ssh >/dev/null || ! command -v podman >/dev/null; then \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq docker.io libseccomp-dev pkg-config tmux openssh-server openssh-client podman; \
	fi

## browser: Debian's chromium, which the web view's tests drive headless
browser:
	@if ! command -v chromium >/dev/null; then \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq chromium; \
	fi

## sink-servers: Debian's Pushgateway, InfluxDB 1.x and VictoriaMetrics,
## which the push tests write to and read back from, and Alertmanager,
## which alerts are delivered to
sink-servers:
	@if ! command -v prometheus-pushgateway >/dev/null || ! command -v influxd >/dev/null || ! command -v victoria-metrics >/dev/null || ! command -v prometheus-alertmanager >/dev/null; then \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq prometheus-pushgateway influxdb victoria-metrics prometheus-alertmanager; \
	fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...

completions:
	$(GO) run ./scripts/gendocs -completions completions

man:
	$(GO) run ./scripts/gendocs -man man

## bench: speed and memory next to expfmt, textparse, prom2json and docker stats
bench: tools docker-engine sink-servers
	TOOLS_BIN=$(TOOLS_BIN) bash scripts/bench.sh

## fuzz: the parser target, then the round trip (parse, write in every
## exposition format, parse again in monctl, textparse and expfmt), each
## for FUZZTIME (FUZZTIME=10m make fuzz)
fuzz:
	$(GO) test ./pkg/exposition -run '^$$' -fuzz FuzzParse -fuzztime $${FUZZTIME:-2m}
	$(GO) test ./pkg/exposition -run '^$$' -fuzz FuzzRoundTrip -fuzztime $${FUZZTIME:-2m}

release-check: $(TOOLS_BIN)/goreleaser
	$(TOOLS_BIN)/goreleaser check

tools: $(TOOLS_BIN)/node_exporter $(TOOLS_BIN)/prom2json $(TOOLS_BIN)/dockerd-29 $(TOOLS_BIN)/runc-1.5 $(TOOLS_BIN)/prometheus $(TOOLS_BIN)/versitygw $(TOOLS_BIN)/etcd $(TOOLS_BIN)/kube-apiserver $(TOOLS_BIN)/kubectl

$(TOOLS_BIN)/node_exporter: tools/node_exporter/go.mod
	cd tools/node_exporter && $(GO) build -o $(TOOLS_BIN)/ github.com/prometheus/node_exporter

# Prometheus and promtool refuse 'go install' (their go.mod has exclude
# directives), so they build from a module that requires them. One build
# writes both.
$(TOOLS_BIN)/prometheus: tools/prometheus/go.mod
	cd tools/prometheus && $(GO) build -o $(TOOLS_BIN)/ github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool

$(TOOLS_BIN)/prom2json: tools/prom2json/go.mod
	cd tools/prom2json && $(GO) build -o $(TOOLS_BIN)/ github.com/prometheus/prom2json/cmd/prom2json

# Engine 29 (moby v2) for the e2e tests and benchmarks, next to Debian's
# 20.10; it uses Debian's containerd but needs a newer runc, built with
# seccomp (libseccomp-dev, installed by docker-engine).
$(TOOLS_BIN)/dockerd-29: tools/dockerd/go.mod
	cd tools/dockerd && $(GO) build -o $@ github.com/moby/moby/v2/cmd/dockerd

$(TOOLS_BIN)/runc-1.5: tools/runc/go.mod | docker-engine
	cd tools/runc && CGO_ENABLED=1 $(GO) build -tags seccomp -o $@ github.com/opencontainers/runc

# versitygw serves S3 over a directory: the real bucket of logs --output-dir s3://.
$(TOOLS_BIN)/versitygw: tools/versitygw/go.mod
	cd tools/versitygw && $(GO) build -o $(TOOLS_BIN)/ github.com/versity/versitygw/cmd/versitygw

# A real Kubernetes API server and its etcd, for watch k8s: both modules
# carry replace directives, so each is built from a module of its own.
$(TOOLS_BIN)/etcd: tools/etcd/go.mod
	cd tools/etcd && $(GO) build -o $@ go.etcd.io/etcd/server/v3

$(TOOLS_BIN)/kube-apiserver: tools/kube-apiserver/go.mod
	cd tools/kube-apiserver && $(GO) build -trimpath -o $@ k8s.io/kubernetes/cmd/kube-apiserver

# kubectl of the same release, which the tests compare watch k8s with
# (Debian's kubernetes-client is years older).
$(TOOLS_BIN)/kubectl: tools/kube-apiserver/go.mod
	cd tools/kube-apiserver && $(GO) build -trimpath -o $@ k8s.io/kubernetes/cmd/kubectl

$(TOOLS_BIN)/goreleaser: tools/goreleaser/go.mod
	cd tools/goreleaser && $(GO) build -o $(TOOLS_BIN)/ github.com/goreleaser/goreleaser/v2

clean:
	rm -rf bin dist man
