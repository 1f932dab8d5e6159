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
  echo "hangar: installing system packages with apt: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo "hangar: apt-get update"
  apt-get update -qq >/dev/null || true
  echo "hangar: apt-get install ${missing[*]}"
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# npm ci when node_modules is missing or older than the lockfile.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "hangar: installing npm dependencies (npm ci): about 450 MB, most of it the Claude Code CLI (381 MB); 1-3 minutes"
  npm ci --no-audit --no-fund --loglevel=error &
  npm_pid=$!
  started=$SECONDS
  # A line every 10 s (HANGAR_PROGRESS_INTERVAL_SEC) while npm works, so a slow download never looks like a hang.
  interval=${HANGAR_PROGRESS_INTERVAL_SEC:-10}
  while kill -0 "$npm_pid" 2>/dev/null; do
    for ((second = 0; second < interval; second++)); do
      sleep 1
      kill -0 "$npm_pid" 2>/dev/null || break
    done
    if kill -0 "$npm_pid" 2>/dev/null; then
      size=$(du -sm node_modules 2>/dev/null | cut -f1 || true)
      echo "hangar: npm ci still running ($((SECONDS - started)) s, node_modules ${size:-0} MB so far)"
    fi
  done
  if ! wait "$npm_pid"; then
    echo "hangar: npm ci failed (see the npm error above)" >&2
    exit 1
  fi
  echo "hangar: npm dependencies installed in $((SECONDS - started)) s"
fi
