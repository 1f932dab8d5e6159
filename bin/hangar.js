#!/usr/bin/env node
// Entry point of the `hangar` command: runs the compiled CLI (npm run build writes dist/).
import('../dist/cli/entry.js').catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
