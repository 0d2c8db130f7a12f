#!/usr/bin/env bash
# Builds Portal and runs every test suite; the last line is "N passed, N failed".
# Extra arguments go to `meson test` (e.g. --suite unit).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${PORTAL_BUILD_DIR:-build}

bash tools/setup.sh >&2 || { echo "0 passed, 1 failed"; exit 1; }
if [[ ! -f "$build/build.ninja" ]]; then
  meson setup "$build" >&2 || { echo "0 passed, 1 failed"; exit 1; }
fi
if ! meson compile -C "$build" -j 2 >&2; then
  echo "build failed" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

xml_dir="$root/$build/test-xml"
rm -rf "$xml_dir" && mkdir -p "$xml_dir"
GTEST_OUTPUT="xml:$xml_dir/" meson test -C "$build" --num-processes 2 --print-errorlogs "$@" >&2
meson_rc=$?

python3 - "$xml_dir" "$root/$build/meson-logs/testlog.json" <<'PY'
import json, os, sys, xml.etree.ElementTree as ET
xml_dir, log = sys.argv[1], sys.argv[2]
cases = {}
for f in os.listdir(xml_dir):
    try:
        root = ET.parse(os.path.join(xml_dir, f)).getroot()
    except ET.ParseError:
        continue
    for tc in root.iter("testcase"):
        if tc.get("result") == "skipped" or tc.find("skipped") is not None:
            continue
        bad = tc.find("failure") is not None or tc.find("error") is not None
        cases[(f, tc.get("classname"), tc.get("name"))] = not bad
passed = sum(1 for ok in cases.values() if ok)
failed = sum(1 for ok in cases.values() if not ok)
# A test binary that crashed, hung or failed without a failing case in its XML counts once.
if os.path.exists(log):
    for line in open(log):
        t = json.loads(line)
        if t.get("result") in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"):
            name = t.get("name", "")
            if not any(k[0].startswith(os.path.basename(t.get("cmd", [""])[0])) and not ok for k, ok in cases.items()):
                failed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
