// Host processes of a task's sandbox, found from outside: the agent runs a command carrying a unique
// marker, whose host process names the sandbox's uid; every process of that uid is the sandbox's.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** A Bash command that sleeps for 600 s and carries a marker to find it by. */
export function markedSleep(): { marker: string; command: string } {
  const marker = `hangar-cancel-${randomBytes(6).toString('hex')}`;
  return { marker, command: `echo ${marker} >/dev/null; sleep 600` };
}

function processTable(): Array<{ uid: number; pid: number; state: string; args: string }> {
  return execFileSync('ps', ['-eo', 'uid=,pid=,stat=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ uid: Number(match[1]), pid: Number(match[2]), state: match[3]!, args: match[4]! }));
}

/** The host uid of the sandbox whose process carries the marker, once a `sleep 600` runs there too. */
export function sandboxUidRunningSleep(marker: string): number | undefined {
  const table = processTable();
  const marked = table.find((row) => row.args.includes(marker) && row.uid !== 0);
  if (marked === undefined) return undefined;
  return table.some((row) => row.uid === marked.uid && /^sleep 600\b/.test(row.args)) ? marked.uid : undefined;
}

/** Host processes running as a uid, zombies aside. */
export function processesOfUid(uid: number): string[] {
  return processTable()
    .filter((row) => row.uid === uid && !row.state.startsWith('Z'))
    .map((row) => `${row.pid} ${row.args}`);
}
