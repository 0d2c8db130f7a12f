#!/usr/bin/env bash
# Builds Portal and runs the demo instance in the foreground (Ctrl-C stops it).
# State lives under var/demo/ in this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${PORTAL_BUILD_DIR:-build}
bash tools/setup.sh >&2
[[ -f "$build/build.ninja" ]] || meson setup "$build" >&2
meson compile -C "$build" -j 2 >&2
mkdir -p var/demo
echo "Demo instance: state in var/demo; try:" >&2
echo "  $build/tools/portalctl -s var/demo/run/ctl.sock get /core/status" >&2
exec "$build/supervisor/portald" --demo var/demo
