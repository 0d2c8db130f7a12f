#!/usr/bin/env bash
# HTTP throughput of a real instance (issue 4 target: >= 50,000 req/s, p99 <= 5 ms with
# 64 keep-alive connections): creates an instance under a temporary --prefix, runs wrk
# RUNS times per URL and prints the median requests/s and p99 of each, with the CPU time the
# server's processes spent per request (portald and every child, from schedstat): wrk's
# figures move with whatever else the machine runs, CPU per request much less.
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
portald=$(pgrep -f "$prefix/etc/portal/bench/portal.conf" | head -1)

# Nanoseconds on a CPU of every thread of portald and its children.
server_cpu_ns() {
  local total=0 pid ns
  for pid in $portald $(pgrep -P "$portald"); do
    for ns in $(cut -d' ' -f1 /proc/"$pid"/task/*/schedstat 2>/dev/null); do total=$((total + ns)); done
  done
  echo "$total"
}

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); wrk -t2 -c$conns -d${secs}s, $runs runs"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for path in /api/core/status /api/hello/resources/greeting; do
  results=()
  for _ in $(seq "$runs"); do
    cpu0=$(server_cpu_ns)
    out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port$path")
    cpu1=$(server_cpu_ns)
    rps=$(sed -n 's/^Requests\/sec:\s*//p' <<<"$out")
    p99=$(awk '$1=="99%"{print $2}' <<<"$out")
    n=$(sed -n 's/^\s*\([0-9]*\) requests in.*/\1/p' <<<"$out")
    us=$(awk -v c=$((cpu1 - cpu0)) -v n="$n" 'BEGIN { printf "%.1f", n ? c / n / 1000 : 0 }')
    results+=("$rps $p99 ${us}us")
  done
  median=$(printf '%s\n' "${results[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  read -r m_rps m_p99 m_us <<<"$median"
  echo "$path: median $m_rps req/s, p99 $m_p99, server CPU $m_us/req (runs: $(printf '%s; ' "${results[@]}"))"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
