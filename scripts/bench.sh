#!/usr/bin/env bash
# make bench: monctl's speed and memory next to the ecosystem's, in one run.
#  1. parse throughput and allocations: monctl vs expfmt's TextParser vs
#     Prometheus' textparse, on the same ~18 MB exposition (Go benchmarks),
#     and the floor: finding every line at memchr speed;
#  2. end to end: wall time and peak RSS of 'monctl scrape -o json FILE'
#     next to prom2json v1.4.2 on the same file, and of --query and
#     --analyze on it next to plain -o json;
#  3. 'monctl watch containers' next to 'docker stats' on a sandboxed
#     engine: one snapshot of 20 containers (wall time), and CPU seconds of
#     client plus engine over WATCH_DURATION (60s) with 50 containers;
#  4. 'monctl serve' /metrics latency (p50, p99) with 20 containers and two
#     re-exposed node_exporters under 20 concurrent scrapers, next to the
#     same load on node_exporter's own /metrics, for SERVE_DURATION (20s);
#     and the web view's pages and API under the same load;
#  4b. 'monctl logs -f' on 50 containers writing 1,000 lines/s for
#     LOG_LINES/1000 s (60), next to 50 'docker logs -f': lines delivered,
#     CPU and memory;
#  5. the pathological shapes (10,000 labels on a series, 300,000 buckets,
#     1M series): time and memory of monctl, expfmt and textparse, and the
#     heap of serve re-exposing a 1M-series target, with and without a
#     sample_limit.
#  6. discovery: 200 labelled containers on a sandboxed Engine 29 found
#     by 'monctl serve --discover docker' and by Prometheus's
#     docker_sd_configs: discovery's CPU over one window, and the time
#     from a container's start to its first sample in serve, push and
#     Prometheus.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TOOLS_BIN:?run through make bench}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/monctl" ./cmd/monctl
go build -o "$work/measure" ./scripts/measure
go run ./scripts/genexposition > "$work/bench.prom"
size=$(stat -c %s "$work/bench.prom")
echo "exposition: $size bytes (200 counter families x 500 series x 4 labels, 200 histogram families x 40 series x 12 buckets)"
echo

echo "## Parse (go test -bench BenchmarkParse -benchmem)"
go test ./pkg/exposition -run '^$' -bench BenchmarkParse -benchmem -benchtime "${BENCHTIME:-5x}" -count 1 | tee "$work/parse.txt"
echo
echo "| parser | MB/s | allocs/op | bytes/op |"
echo "|---|---|---|---|"
awk '/^BenchmarkParse\// { split($1, n, "/"); sub(/-[0-9]+$/, "", n[2]); printf "| %s | %s | %s | %s |\n", n[2], $5, $9, $7 }' "$work/parse.txt"
echo
awk '/^BenchmarkParse\// { split($1, n, "/"); sub(/-[0-9]+$/, "", n[2]); mbs[n[2]] = $5 }
	END { printf "monctl (the full model) / textparse (labels only): %.2f× the speed; the floor (every line found at memchr speed) is %.0f× monctl\n", mbs["monctl"] / mbs["textparse"], mbs["floor"] / mbs["monctl"] }' "$work/parse.txt"
echo

echo "## End to end: JSON of the whole file"
"$work/measure" -runs "${RUNS:-5}" -- "$work/monctl" scrape -o json "$work/bench.prom" :: "$TOOLS_BIN/prom2json" "$work/bench.prom"

echo
echo "## Questions over the whole file: --query and --analyze next to plain -o json (the baseline)"
"$work/measure" -runs "${RUNS:-5}" -- \
	"$work/monctl" scrape "$work/bench.prom" -o json --query 'topk(10, count by (__name__)({__name__=~".+"}))' :: \
	"$work/monctl" scrape "$work/bench.prom" -o json --query 'topk(3, sum by (service) (bench_requests_000_total))' :: \
	"$work/monctl" scrape "$work/bench.prom" -o json --analyze :: \
	"$TOOLS_BIN/prom2json" "$work/bench.prom" :: \
	"$work/monctl" scrape -o json "$work/bench.prom"

echo
echo "## Many targets in one document: scrape -o json of 1000 loopback targets next to curl fetching them"
go run ./scripts/benchmany -monctl "$work/monctl" -node-exporter "$TOOLS_BIN/node_exporter" -measure "$work/measure" \
	-targets "${MANY_TARGETS:-1000}" -runs "${RUNS:-5}"

echo
echo "## watch containers next to docker stats (sandboxed engine)"
CGO_ENABLED=0 go build -o "$work/monctl-static" ./cmd/monctl
go run ./scripts/benchcontainers -monctl "$work/monctl-static" -runs "${RUNS:-5}" -duration "${WATCH_DURATION:-60s}" \
	-dockerd29 "$TOOLS_BIN/dockerd-29" -runc "$TOOLS_BIN/runc-1.5"

echo
echo "## serve under load, next to node_exporter (sandboxed Engine 29)"
go run ./scripts/benchserve -monctl "$work/monctl-static" -node-exporter "$TOOLS_BIN/node_exporter" -duration "${SERVE_DURATION:-20s}" \
	-dockerd29 "$TOOLS_BIN/dockerd-29" -runc "$TOOLS_BIN/runc-1.5"

echo
echo "## logs -f next to docker logs -f (sandboxed Engine 29)"
go run ./scripts/benchlogs -monctl "$work/monctl-static" -lines "${LOG_LINES:-60000}" \
	-dockerd29 "$TOOLS_BIN/dockerd-29" -runc "$TOOLS_BIN/runc-1.5"

echo
echo "## Pathological shapes (go test -bench BenchmarkPathological -benchmem -benchtime 1x)"
go test ./pkg/exposition -run '^$' -bench BenchmarkPathological -benchmem -benchtime 1x -count 1 | tee "$work/patho.txt"
echo
echo "| shape | parser | time | MB/s | bytes/op | allocs/op |"
echo "|---|---|---|---|---|---|"
awk '/^BenchmarkPathological\// { split($1, n, "/"); sub(/-[0-9]+$/, "", n[3]); printf "| %s | %s | %.3f s | %s | %s | %s |\n", n[2], n[3], $3/1e9, $5, $7, $9 }' "$work/patho.txt"
echo
echo "## serve with a 1M-series target (go test -bench BenchmarkHugeTarget -benchtime 3x)"
go test ./pkg/exporter -run '^$' -bench BenchmarkHugeTarget -benchtime 3x -count 1
echo
echo "## push --every next to vmagent and Prometheus --agent, into VictoriaMetrics over remote write"
go run ./scripts/benchpush -monctl "$work/monctl-static" -prometheus "$TOOLS_BIN/prometheus" -targets "${PUSH_TARGETS:-50}" -duration "${PUSH_DURATION:-60s}"

echo
echo "## discovery: --discover docker next to Prometheus's docker_sd_configs (sandboxed Engine 29)"
go run ./scripts/benchdiscover -monctl "$work/monctl-static" -prometheus "$TOOLS_BIN/prometheus" -containers "${DISCOVER_CONTAINERS:-200}" \
	-duration "${DISCOVER_DURATION:-60s}" -dockerd29 "$TOOLS_BIN/dockerd-29" -runc "$TOOLS_BIN/runc-1.5"

echo
echo "## A fleet in one view: 2 hosts × 50 containers through the engines, a hub and two stores (sandboxed engines, Prometheus, VictoriaMetrics)"
go run ./scripts/benchfleet -monctl "$work/monctl-static" -prometheus "$TOOLS_BIN/prometheus" -containers "${FLEET_CONTAINERS:-50}" \
	-runs "${RUNS:-5}" -duration "${FLEET_DURATION:-30s}" -dockerd29 "$TOOLS_BIN/dockerd-29" -runc "$TOOLS_BIN/runc-1.5"

echo
echo "## watch k8s next to kubectl of the same release: ${KUBE_PODS:-5000} pods across 50 namespaces (real kube-apiserver and etcd)"
go run ./scripts/benchkube -monctl "$work/monctl-static" -tools "$TOOLS_BIN" -pods "${KUBE_PODS:-5000}" -runs "${RUNS:-5}" -duration "${KUBE_DURATION:-30s}"
