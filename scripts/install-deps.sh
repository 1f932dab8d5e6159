#!/usr/bin/env bash
# Installs what Hangar needs on a Debian machine: system packages (as root) and npm dependencies.
# Idempotent: it skips what is already present.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(bubblewrap socat util-linux mount e2fsprogs procps tar zstd iproute2)
missing=()
for package in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "hangar: missing system packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "hangar: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || true
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# npm ci when node_modules is missing or older than the lockfile.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "hangar: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
