#!/usr/bin/env bash
# Federation throughput and hub-hop latency (issue 6 targets: >= 10,000 req/s over one TLS
# hop at 16 and 64 connections; a hub hop adds <= 0.2 ms at p50 and <= 1 ms at p99; 256
# concurrent remote requests crash no node). Creates four instances under a temporary
# --prefix, all on loopback:
#
#   office --TLS--> factory          direct path
#   office --TLS--> hub <--TLS-- plant   plant only dials the hub; office reaches it via the hub
#   office --TLS--> proxy --> slow   the proxy passes office's bytes at 1 KiB/s: a peer
#                                    that reads 1 KiB/s, for the isolation figure
#
# and drives office's web module with wrk. Prints the median of RUNS runs of each figure.
# Isolation: office -> factory p99 at 16 connections, alone and while 64 clients keep
# requests waiting on `slow`, which reads 1 KiB/s.
# Usage: tools/bench/node.sh [RUNS=3] [SECONDS=10]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${PORTAL_BUILD_DIR:-build}
runs=${1:-3} secs=${2:-10}
command -v wrk >/dev/null || { echo "node.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }
portal="$build/tools/portal"
prefix=$(mktemp -d /tmp/portal-nodebench-XXXXXX)
nodes=(office factory hub plant slow)
cleanup() {
  if [[ -n ${proxy:-} ]]; then kill "$proxy" 2>/dev/null || true; fi
  for n in "${nodes[@]}"; do "$portal" --prefix "$prefix" -D "$n" >/dev/null 2>&1 || true; done
  rm -rf "$prefix"
}
trap cleanup EXIT

declare -A port
for n in "${nodes[@]}"; do
  "$portal" --prefix "$prefix" -C "$n" >/dev/null
  conf="$prefix/etc/portal/$n/modules/core/mod_node.conf"
  port[$n]=$(sed -n 's/^listen_port = //p' "$conf")
done
key=$(sed -n 's/^federation_key = //p' "$prefix/etc/portal/office/modules/core/mod_node.conf")

# One federation key for all; node on, bound to loopback; peers as drawn above.
configure() {  # name, extra [mod_node] line, peer sections...
  local n=$1 extra=$2; shift 2
  local conf="$prefix/etc/portal/$n/modules/core/mod_node.conf"
  sed -i -e 's/^enabled = false/enabled = true/' -e "s/^federation_key = .*/federation_key = $key/" "$conf"
  sed -i "/^\[mod_node\]/a bind = 127.0.0.1\npeer_workers = 64\n$extra" "$conf"
  printf '%s\n' "$@" >>"$conf"
}
peer() { printf '[peer:%s]\nhost = 127.0.0.1\nport = %s\n' "$1" "${port[$1]}"; }
# office reaches slow through a local TCP proxy that forwards office's bytes at 1 KiB/s
# (the other direction at full speed): to office, slow is a peer that reads 1 KiB/s.
proxy_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$proxy_port" "${port[slow]}" 1024 <<'PY' &
import asyncio, sys
listen, target, rate = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
async def pipe(r, w, rate):
    try:
        while data := await r.read(rate or 65536):
            w.write(data)
            await w.drain()
            if rate:
                await asyncio.sleep(len(data) / rate)
    except Exception:
        pass
    finally:
        w.close()
async def handle(cr, cw):
    try:
        sr, sw = await asyncio.open_connection("127.0.0.1", target)
    except Exception:
        cw.close()
        return
    await asyncio.gather(pipe(cr, sw, rate), pipe(sr, cw, 0))
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()
asyncio.run(main())
PY
proxy=$!
configure office "" "$(peer factory)" "$(peer hub)" $'[peer:slow]\nhost = 127.0.0.1\nport = '"$proxy_port" $'[peer:plant]\nhub = hub'
configure factory ""
configure slow ""
configure hub ""
configure plant "listen = false" "$(peer hub)"

for n in "${nodes[@]}"; do "$portal" --prefix "$prefix" -n "$n" >/dev/null; done
web=$(sed -n 's/^port = //p' "$prefix/etc/portal/office/modules/core/mod_web.conf")
url="http://127.0.0.1:$web/api/node"
ready=0
for _ in $(seq 200); do
  if curl -sf "$url/factory/core/status" >/dev/null && curl -sf "$url/plant/core/status" >/dev/null; then
    ready=1 && break
  fi
  sleep 0.1
done
[[ $ready == 1 ]] || { echo "node.sh: the nodes did not link up; office log:" >&2; tail -n 5 "$prefix"/var/log/portal/*/*.log >&2 || true
  curl -s "$url/factory/core/status" "$url/plant/core/status" >&2; exit 1; }

# wrk's latency ("850.00us", "1.20ms", "2.00s") in milliseconds.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000} printf "%.3f", v}' <<<"$1"; }
median() { sort -n | sed -n "$(( (runs + 1) / 2 ))p"; }
run_wrk() {  # threads connections path -> "rps p50ms p99ms"
  local out
  out=$(wrk -t"$1" -c"$2" -d"${secs}s" --latency "$url$3")
  echo "$(sed -n 's/^Requests\/sec:\s*//p' <<<"$out") $(to_ms "$(awk '$1=="50%"{print $2}' <<<"$out")") $(to_ms "$(awk '$1=="99%"{print $2}' <<<"$out")")"
}

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); load before: $(cut -d' ' -f1-3 /proc/loadavg); ${secs}s x $runs runs"
for c in 16 64; do
  results=()
  for _ in $(seq "$runs"); do results+=("$(run_wrk 2 "$c" /factory/core/status)"); done
  m=$(printf '%s\n' "${results[@]}" | median)
  echo "one TLS hop, $c connections: median $(cut -d' ' -f1 <<<"$m") req/s, p99 $(cut -d' ' -f3 <<<"$m") ms (runs: $(printf '%s; ' "${results[@]}"))"
done

# Latency of a lone client: the direct path against the path through the hub.
direct=() viahub=()
for _ in $(seq "$runs"); do
  direct+=("$(run_wrk 1 1 /factory/core/status)")
  viahub+=("$(run_wrk 1 1 /plant/core/status)")
done
d50=$(printf '%s\n' "${direct[@]}" | awk '{print $2}' | median) d99=$(printf '%s\n' "${direct[@]}" | awk '{print $3}' | median)
h50=$(printf '%s\n' "${viahub[@]}" | awk '{print $2}' | median) h99=$(printf '%s\n' "${viahub[@]}" | awk '{print $3}' | median)
echo "one client, direct: p50 $d50 ms, p99 $d99 ms; via hub: p50 $h50 ms, p99 $h99 ms"
echo "hub hop adds: p50 $(awk -v a="$h50" -v b="$d50" 'BEGIN{printf "%.3f", a-b}') ms, p99 $(awk -v a="$h99" -v b="$d99" 'BEGIN{printf "%.3f", a-b}') ms"

# 256 concurrent remote requests, direct and through the hub: every node must live on.
wrk -t2 -c256 -d"${secs}s" "$url/factory/core/status" >/dev/null
wrk -t2 -c256 -d"${secs}s" "$url/plant/core/status" >/dev/null
alive=0
for n in "${nodes[@]}"; do
  "$portal" --prefix "$prefix" -s | grep -q "^$n .*running" && alive=$((alive + 1))
done
status=$(curl -s -o /dev/null -w '%{http_code}' "$url/plant/core/status")
echo "256 connections: $alive of ${#nodes[@]} nodes running afterwards; office -> hub -> plant answers $status"

# Isolation: 64 clients keep requests waiting on the peer that reads 1 KiB/s; office ->
# factory must not notice.
alone=() beside=()
for _ in $(seq "$runs"); do
  alone+=("$(run_wrk 2 16 /factory/core/status)")
  # 64 keep-alive clients, each asking slow again half a second after every answer (one
  # light process, so the load is the slow peer's and not the clients').
  python3 - "$web" <<'PY' &
import asyncio, sys
port = int(sys.argv[1])
async def client():
    while True:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            while True:
                w.write(b"GET /api/node/slow/core/status HTTP/1.1\r\nHost: x\r\n\r\n")
                head = await r.readuntil(b"\r\n\r\n")
                n = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")]
                await r.readexactly(n[0] if n else 0)
                await asyncio.sleep(0.5)
        except Exception:
            await asyncio.sleep(0.5)
async def main():
    await asyncio.gather(*(client() for _ in range(64)))
asyncio.run(main())
PY
  waiting=$!
  sleep 2
  beside+=("$(run_wrk 2 16 /factory/core/status)")
  kill "$waiting" 2>/dev/null || true
  wait "$waiting" 2>/dev/null || true
done
a99=$(printf '%s\n' "${alone[@]}" | awk '{print $3}' | median) b99=$(printf '%s\n' "${beside[@]}" | awk '{print $3}' | median)
slow_state=$(curl -s "http://127.0.0.1:$web/api/node/resources/peer/slow" | sed -n 's/^Status: //p')
echo "slow peer (reads 1 KiB/s, link $slow_state): office -> factory p99 at 16 connections $a99 ms alone, $b99 ms with 64 clients waiting on it ($(awk -v a="$a99" -v b="$b99" 'BEGIN{printf "%+.0f%%", (b-a)/a*100}'))"
