// What the agent left running in a sandbox about to be retired (hibernation ends those processes):
// their names, for the `hibernated` event. Reported, never acted upon: a provider without the
// capability, or a failure to read, yields an empty list.
import type { Logger } from 'pino';
import type { Sandbox } from '../sandbox/sandbox-provider.js';

/** Most processes named in one event; `endedProcessCount` still counts them all. */
export const MAX_NAMED_PROCESSES = 64;

export interface LeftProcesses {
  /** Names (sorted) of the processes the agent left running, at most MAX_NAMED_PROCESSES. */
  endedProcesses: string[];
  endedProcessCount: number;
}

export function summarizeProcesses(processes: ReadonlyArray<{ name: string }>): LeftProcesses {
  const names = processes.map((process) => process.name).sort();
  return { endedProcesses: names.slice(0, MAX_NAMED_PROCESSES), endedProcessCount: names.length };
}

export async function processesLeftIn(sandbox: Sandbox | undefined, logger: Logger): Promise<LeftProcesses> {
  if (sandbox?.agentProcesses === undefined) return summarizeProcesses([]);
  try {
    return summarizeProcesses(await sandbox.agentProcesses());
  } catch (error) {
    logger.warn({ err: error, sandboxId: sandbox.id }, 'listing the processes left in a sandbox failed');
    return summarizeProcesses([]);
  }
}
