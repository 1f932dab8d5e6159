#!/usr/bin/env bash
# Sets up what the tests need, then type-checks, lints, checks the formatting (prettier) and runs every test (real sandboxes, the
# real Claude Code CLI, the scripted model server). Run as root: sandboxes need cgroups.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
npm run --silent typecheck
npm run --silent lint
npm run --silent format:check
npx vitest run "$@"
