#!/usr/bin/env bash
# Measures samsa against baselines in one run on this machine and prints a
# Markdown report (docs/benchmarks.md is made from its output):
#   - raw disk write speed (dd, 1 MiB blocks, with and without fdatasync),
#   - franz-go's in-memory fake broker kfake (test/bench/kfakeserver),
#   - samsa without and with fsync-on-ack,
# for 1M x 100 B and 1M x 1 KiB records, 6 partitions, acks=1 and acks=all,
# linger 5 ms, 1 MB batches; plus p99 at a fixed 20,000 records/s (acks=all,
# linger 0), idle RSS and start-up time. Every run is bounded by its record
# count. Usage: scripts/bench.sh [RECORDS]   (default 1000000)
#        scripts/bench.sh --cluster   (only the cluster benchmark: 3 nodes RF 3
#        acks=all against 1 node acks=1, test/cluster/bench_test.go)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--cluster" ]; then
	SAMSA_BENCH=1 exec go test ./test/cluster -run '^TestClusterBench$' -count=1 -v -timeout 20m
fi
records=${1:-1000000}
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/samsa" ./cmd/samsa
go build -o "$work/kfakeserver" ./test/bench/kfakeserver
samsa="$work/samsa"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_samsa() { # $1 extra flags; sets addr pid
	local kp cp dir
	kp=$(free_port); cp=$(free_port); dir="$work/data-$kp"
	local t0; t0=$(date +%s%N)
	"$samsa" server --data-dir "$dir" --kafka-addr "127.0.0.1:$kp" --controller-addr "127.0.0.1:$cp" --http-addr "" $1 >"$work/samsa-$kp.log" 2>&1 &
	pid=$!; pids+=("$pid"); addr="127.0.0.1:$kp"
	until (echo >/dev/tcp/127.0.0.1/$kp) 2>/dev/null; do sleep 0.005; done
	startup_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	# wait until it serves requests, not just accepts
	until "$samsa" cluster info --brokers "$addr" >/dev/null 2>&1; do sleep 0.02; done
}
start_kfake() {
	"$work/kfakeserver" >"$work/kfake.out" 2>&1 &
	pids+=("$!")
	until [ -s "$work/kfake.out" ]; do sleep 0.01; done
	read -r addr pid <"$work/kfake.out"
}

row() { # name addr pid size acks
	local out
	out=$("$samsa" bench produce "t-$RANDOM-$4-$5" --brokers "$2" --records "$records" --record-size "$4" --acks "$5" \
		--partitions 6 --linger 5ms --batch-max-bytes 1000000 --broker-pid "$3" --format json -q)
	local cout
	cout=$("$samsa" bench consume "$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["topic"])')" \
		--brokers "$2" --broker-pid "$3" --format json -q)
	python3 - "$1" "$4" "$5" "$out" "$cout" <<'PY'
import json, sys
name, size, acks, p, c = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), json.loads(sys.argv[5])
print(f"| {name} | {size} B | {acks} | {p['records_per_sec']:,.0f} | {p['mb_per_sec']:.1f} | {p['p99_ms']:.1f} | {p['broker_cpu_seconds']:.2f} | {c['records_per_sec']:,.0f} | {c['mb_per_sec']:.1f} | {c['broker_cpu_seconds']:.2f} |")
PY
}

echo "## Disk baseline"
echo
echo '```'
dd if=/dev/zero of="$work/dd" bs=1M count=512 2>&1 | tail -1
dd if=/dev/zero of="$work/dd" bs=1M count=512 conv=fdatasync 2>&1 | tail -1
echo '```'
echo
echo "## Produce and consume, $records records, 6 partitions, linger 5 ms, 1 MB batches"
echo
echo "| broker | record | acks | produce rec/s | produce MB/s | p99 ms | broker CPU s (produce) | consume rec/s | consume MB/s | broker CPU s (consume) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
start_kfake; for size in 100 1024; do for acks in 1 all; do row kfake "$addr" "$pid" "$size" "$acks"; done; done; kill "$pid"
start_samsa ""; for size in 100 1024; do for acks in 1 all; do row samsa "$addr" "$pid" "$size" "$acks"; done; done
idle_pid=$pid; idle_addr=$addr; idle_start=$startup_ms
start_samsa "--fsync-on-ack"; for size in 100 1024; do row "samsa fsync-on-ack" "$addr" "$pid" "$size" all; done; kill "$pid"
echo
echo "## Latency at a fixed 20,000 records/s (100 B, acks=all, linger 0, 10 s)"
echo
echo '```'
"$samsa" bench produce "lat-$RANDOM" --brokers "$idle_addr" --rate 20000 --duration 10s --records 200000 --record-size 100 --acks all --linger 0 --broker-pid "$idle_pid" -q
echo '```'
echo
echo "## Idle samsa"
echo
sleep 1
echo "- start-up to accepting connections: ${idle_start} ms (fresh data dir)"
echo "- idle RSS after the runs above: $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$idle_pid/status)"
start_samsa ""; sleep 1
echo "- idle RSS of a fresh node: $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$pid/status); start-up ${startup_ms} ms"
