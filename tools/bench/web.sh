#!/usr/bin/env bash
# HTTP throughput of a real instance (issue 4 target: >= 50,000 req/s, p99 <= 5 ms with
# 64 keep-alive connections): creates an instance under a temporary --prefix, runs wrk
# RUNS times per URL and prints the median requests/s and p99 of each.
# Usage: tools/bench/web.sh [RUNS=3] [SECONDS=10] [CONNECTIONS=64]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${PORTAL_BUILD_DIR:-build}
runs=${1:-3} secs=${2:-10} conns=${3:-64}
command -v wrk >/dev/null || { echo "web.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }
prefix=$(mktemp -d /tmp/portal-webbench-XXXXXX)
trap '"$build/tools/portal" --prefix "$prefix" -D bench >/dev/null 2>&1 || true; rm -rf "$prefix"' EXIT
"$build/tools/portal" --prefix "$prefix" -C bench >/dev/null
conf="$prefix/etc/portal/bench/modules/core/mod_web.conf"
port=$(sed -n 's/^port = //p' "$conf")
"$build/tools/portal" --prefix "$prefix" -n bench >/dev/null
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/core/status" >/dev/null && break; sleep 0.05; done
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); wrk -t2 -c$conns -d${secs}s, $runs runs"
for path in /api/core/status /api/hello/resources/greeting; do
  results=()
  for _ in $(seq "$runs"); do
    out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port$path")
    rps=$(sed -n 's/^Requests\/sec:\s*//p' <<<"$out")
    p99=$(awk '$1=="99%"{print $2}' <<<"$out")
    results+=("$rps $p99")
  done
  median=$(printf '%s\n' "${results[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  echo "$path: median ${median% *} req/s, p99 ${median#* } (runs: $(printf '%s; ' "${results[@]}"))"
done
