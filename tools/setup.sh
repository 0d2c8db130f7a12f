#!/usr/bin/env bash
# Installs what building and testing Portal needs on a fresh Debian 12 machine.
# Safe to re-run: only missing packages are installed.
set -euo pipefail

packages=(
  g++ meson ninja-build pkg-config
  libboost-dev protobuf-compiler libprotobuf-dev
  libssl-dev libsqlite3-dev libpq-dev
  libgtest-dev nlohmann-json3-dev
  postgresql
  python3
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all build and test dependencies are installed"
fi
