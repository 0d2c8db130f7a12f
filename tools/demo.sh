#!/usr/bin/env bash
# Builds Portal and runs a demo instance in the foreground (Ctrl-C stops it): `portal -C`
# under var/demo/ in this checkout (nothing is written outside it), with the web module on
# 127.0.0.1 and the cli shell. The first run prints root's password and API key once.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${PORTAL_BUILD_DIR:-build}
bash tools/setup.sh >&2
[[ -f "$build/build.ninja" ]] || meson setup "$build" >&2
meson compile -C "$build" -j 2 >&2
prefix=$(pwd)/var/demo
portal="$build/tools/portal --prefix $prefix"
etc="$prefix/etc/portal/demo"
if [[ ! -f "$etc/portal.conf" ]]; then
  $portal -C demo >&2
else
  echo "Demo instance in $prefix (root's API key: $(sed -n 's/^api_key = //p' "$etc/users/root.conf"))" >&2
fi
port=$(sed -n 's/^port = //p' "$etc/modules/core/mod_web.conf")
cat >&2 <<MSG

  HTTP:   http://127.0.0.1:$port/api/          e.g. curl -H "X-API-Key: KEY" http://127.0.0.1:$port/api/auth/whoami
  CLI:    $portal -n demo -r
  ctl:    $build/tools/portalctl -s $prefix/var/run/portal-demo/ctl.sock get /core/status

MSG
exec $portal -n demo -f
