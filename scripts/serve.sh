#!/usr/bin/env bash
# Sets up Hangar (system packages, npm dependencies, build) and serves it on the embedded defaults:
# SQLite in ./.hangar, local bubblewrap sandboxes, the API on http://127.0.0.1:8080.
# Extra arguments go to `hangar serve` (e.g. --port 9000). The model upstream comes from
# ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY (default https://api.anthropic.com). With neither set and
# no config file, it serves the demo model instead (`hangar serve --demo`: answers marked [demo]).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
echo "hangar: building (npm run build)"
npm run --silent build
demo=()
if [ -z "${ANTHROPIC_API_KEY:-}" ] && [ -z "${ANTHROPIC_BASE_URL:-}" ] && [ ! -f hangar.config.json ]; then
  case " $* " in
    *" --config "* | *" -c "* | *" --demo "*) ;;
    *)
      echo "hangar: no ANTHROPIC_API_KEY set: serving the demo model (scripted answers, each marked [demo])."
      echo "hangar: for Claude, stop this and run: ANTHROPIC_API_KEY=sk-ant-... ./scripts/serve.sh"
      demo=(--demo)
      ;;
  esac
fi
exec node bin/hangar.js serve "${demo[@]}" "$@"
