// `hangar tasks egress <id>` and `hangar sessions egress <id>`: what the egress proxy decided for
// the sandbox of a task or session, one line per decision (or JSON), every page read.
import type { Command } from 'commander';
import type { EgressEntryView } from '../client/hangar-client.js';
import { clientFor, jsonOption, parseInteger, printJson, serverOption } from './cli-options.js';

/** One decision as a line: `12 denied CONNECT example.com:443 0/0 B  host example.com:443 is not in the allowed hosts`. */
export function formatEgressEntry(entry: EgressEntryView): string {
  return `${entry.seq} ${entry.at} ${entry.verdict.padEnd(7)} ${entry.method} ${entry.host}:${entry.port} ${entry.bytesOut}/${entry.bytesIn} B  ${entry.reason}`;
}

export function addEgressCommand(parent: Command, kind: 'tasks' | 'sessions'): void {
  const noun = kind === 'tasks' ? 'task' : 'session';
  jsonOption(serverOption(parent.command('egress')))
    .argument('<id>', `${noun} id`)
    .option('--after <seq>', 'only decisions numbered after this', parseInteger('--after'), 0)
    .option('--denied', 'only refused requests (in learn mode: every host the agent tried)')
    .description(`what the egress proxy allowed and refused for a ${noun}, oldest first: seq, time, verdict, request, bytes out/in, reason`)
    .action(async (id: string, flags: { server: string; json?: boolean; after: number; denied?: boolean }) => {
      const client = clientFor(flags);
      const entries: EgressEntryView[] = [];
      for (let after: number | null = flags.after; after !== null;) {
        const page = await client.listEgress(kind, id, { after, limit: 1000 });
        entries.push(...page.entries);
        after = page.nextAfter;
      }
      const shown = flags.denied === true ? entries.filter((entry) => entry.verdict === 'denied') : entries;
      if (flags.json) return printJson(shown);
      for (const entry of shown) process.stdout.write(`${formatEgressEntry(entry)}\n`);
    });
}
