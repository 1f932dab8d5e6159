#!/usr/bin/env bash
# Sets up Hangar (system packages, npm dependencies, build) and serves it on the embedded defaults:
# SQLite in ./.hangar, local bubblewrap sandboxes, the API on http://127.0.0.1:8080.
# Extra arguments go to `hangar serve` (e.g. --port 9000). The model upstream comes from
# ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY (default https://api.anthropic.com).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
npm run --silent build
exec node bin/hangar.js serve "$@"
