// `npx tsx bench/network-only.ts`: runs only the network bench and rewrites only BENCHMARKS.md's
// network section (from its heading to the next section), leaving the other sections as they are.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { benchNetwork } from './network-bench.js';
import { NETWORK_HEADING, networkSection, networkSummary } from './network-report.js';

/** `document` with the network section replaced by `section` (appended when it has none). */
function replaceNetworkSection(document: string, section: string): string {
  const start = document.indexOf(`\n${NETWORK_HEADING}\n`);
  if (start === -1) return `${document.trimEnd()}\n\n${section}`;
  const next = document.indexOf('\n## ', start + 1);
  return `${document.slice(0, start + 1)}${section}${next === -1 ? '' : `\n${document.slice(next + 1)}`}`;
}

process.stdout.write('network: egress proxy and model gateway vs direct...\n');
const network = await benchNetwork(5);
process.stdout.write(`  ${networkSummary(network)}\n`);
const file = path.join(process.cwd(), 'BENCHMARKS.md');
writeFileSync(file, replaceNetworkSection(readFileSync(file, 'utf8'), networkSection(network)));
process.stdout.write('wrote the network section of BENCHMARKS.md\n');
