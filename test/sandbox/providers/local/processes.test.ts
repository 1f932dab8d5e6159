// The processes a local sandbox reports as the agent's: everything in its cgroups but Hangar's launch
// chains (outer bwrap, bwrap init, the command at pid 2 inside, the socat bridges it forked), from the
// process tree of a real long-running session at a turn boundary (the agent left two sleeps, one an
// orphan the bwrap init adopted).
import { describe, expect, it } from 'vitest';
import { agentEntries, parseProcessEntry, type ProcessEntry } from '../../../../src/sandbox/providers/local/processes.js';
import { MAX_NAMED_PROCESSES, summarizeProcesses } from '../../../../src/sessions/left-processes.js';

const tree: ProcessEntry[] = [
  { pid: 7371, ppid: 7345, comm: 'bwrap', nsPid: 7371 },
  { pid: 7372, ppid: 7371, comm: 'bwrap', nsPid: 1 },
  { pid: 7386, ppid: 7372, comm: 'claude', nsPid: 2 },
  { pid: 7387, ppid: 7386, comm: 'socat', nsPid: 3 },
  { pid: 7415, ppid: 7387, comm: 'socat', nsPid: 12 },
  { pid: 7423, ppid: 7372, comm: 'sleep', nsPid: 20 },
  { pid: 7425, ppid: 7386, comm: 'python3', nsPid: 22 },
  { pid: 7430, ppid: 7425, comm: 'socat', nsPid: 23 },
];

describe('processes the agent left in a local sandbox', () => {
  it('are all but the launch chain, its command and its bridges', () => {
    expect(agentEntries(tree, new Set([7371])).map((entry) => entry.comm)).toEqual(['sleep', 'python3', 'socat']);
  });

  it('are everything when no launch of this sandbox is known', () => {
    expect(agentEntries(tree, new Set())).toHaveLength(tree.length);
  });

  it('are parsed from /proc stat and status, whatever the name holds', () => {
    const stat = '7423 (my (odd) name) S 7372 7420 7420 0 -1 4194304 205 0 0 0';
    expect(parseProcessEntry(7423, stat, 'Name:\tx\nNSpid:\t7423\t20\n')).toEqual({ pid: 7423, ppid: 7372, comm: 'my (odd) name', nsPid: 20 });
    expect(parseProcessEntry(1, 'garbage', '')).toBeUndefined();
  });

  it('are named in the hibernated event, sorted and capped', () => {
    expect(summarizeProcesses([{ name: 'sleep' }, { name: 'python3' }])).toEqual({ endedProcesses: ['python3', 'sleep'], endedProcessCount: 2 });
    const many = summarizeProcesses(Array.from({ length: 100 }, () => ({ name: 'sleep' })));
    expect(many.endedProcesses).toHaveLength(MAX_NAMED_PROCESSES);
    expect(many.endedProcessCount).toBe(100);
  });
});
