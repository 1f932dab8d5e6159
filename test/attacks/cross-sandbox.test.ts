// Attack: one agent reaches into another live sandbox. A victim task writes a marker into its
// workspace, HOME and /tmp, listens on a loopback port and an abstract unix socket, and sleeps. With
// the victim live, an attacker task, given everything the host knows about the victim (its host
// pids, host directory, cgroup directories, the data directory), tries every path it could guess:
// the host paths of the victim's workspace and home, /proc/<pid>/root, cwd and environ of the
// victim's processes and of every process it sees, /sys/fs/cgroup, the loop devices behind the
// victim's filesystems, a search of its whole visible filesystem and /proc for the marker, the
// victim's listeners, and kill, ptrace and setuid towards the victim. Every attempt must fail; the
// victim's files must be unchanged, its processes alive, and it must cancel normally afterwards.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView } from '../../src/client/hangar-client.js';
import type { LocalSandbox } from '../../src/sandbox/providers/local/index.js';
import { attemptsScript, checkOutput, marker, python, rebuilt, runAgentTask } from '../helpers/attack-agent.js';
import { eventually, startHarness, type Harness } from '../helpers/hangar-harness.js';
import { markedSleep, sandboxUidRunningSleep } from '../helpers/task-processes.js';

const VICTIM_PORT = 7777;

describe('attack: reading and touching another live sandbox, by a real agent', () => {
  let harness: Harness;
  const victimMark = marker('victim-secret');
  const abstractName = marker('victim-socket');
  const sleep = markedSleep();
  let victimTask: TaskView;
  let victim: LocalSandbox;
  let victimUid: number;
  let victimPids: number[];
  let attacker: TaskView;
  let report: string;
  let victimFilesAfter: Record<string, string>;
  let victimWorkspaceAfter: string[];
  let victimStillSleeping: number | undefined;
  let cancelled: TaskView;
  let residueTask: TaskView;
  let residue: string;
  /** A recursive grep for the victim's marker (from a builtin's output: no process's argv holds it), printing the count of files. */
  const search = (where: string): string => `grep -rlsaF -f <(printf "%s\\n" ${rebuilt(victimMark)}) ${where} | wc -l`;

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [] } });
    const listener = `import os, socket, threading
def serve(s):
    s.listen(8)
    while True:
        c, _ = s.accept(); c.sendall(b'${victimMark}\\n'); c.close()
tcp = socket.socket(); tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); tcp.bind(('127.0.0.1', ${VICTIM_PORT}))
unix = socket.socket(socket.AF_UNIX); unix.bind('\\0${abstractName}')
threading.Thread(target=serve, args=(unix,), daemon=True).start()
serve(tcp)`;
    const victimCommand = [
      `for f in /workspace/victim.txt ~/victim-home.txt /tmp/victim-tmp.txt; do echo ${victimMark} > $f; done`,
      `cat > /tmp/listener.py <<'EOF'\n${listener}\nEOF`,
      '(python3 /tmp/listener.py </dev/null >/dev/null 2>&1 &)',
      sleep.command,
    ].join('\n');
    harness.model.setScenario({
      replies: [{ content: [{ type: 'tool_use', name: 'Bash', input: { command: victimCommand, description: 'victim', timeout: 600_000 } }] }],
    });
    victimTask = await harness.client.createTask({ prompt: 'Keep a secret.', allowedTools: ['Bash'], maxTurns: 4 });
    victimUid = await eventually(() => sandboxUidRunningSleep(sleep.marker), 60_000, "the victim's sleep 600");
    // The task record names its sandbox once it ends; the live one is found by its host uid.
    victim = [...harness.sandboxes.values()].map((record) => record.sandbox as LocalSandbox).find((sandbox) => sandbox.hostUid === victimUid)!;
    victimPids = await victim.hostPids();
    // The victim's listeners, seen in its network namespace.
    const victimNet = (file: string): string => readFileSync(`/proc/${victimPids.at(-1)}/net/${file}`, 'utf8');
    const portHex = `:${VICTIM_PORT.toString(16).toUpperCase()} `;
    await eventually(
      () => (victimNet('unix').includes(abstractName) && victimNet('tcp').includes(portHex) ? true : undefined),
      10_000,
      "the victim's listeners",
    );

    const pids = victimPids.join(' ');
    const hostDir = victim.hostDir;
    const attempts: Array<[string, string]> = [
      [
        'host_paths',
        [
          `${hostDir}/workspace/victim.txt`,
          `${hostDir}/scratch/home/victim-home.txt`,
          `${hostDir}/scratch/tmp/victim-tmp.txt`,
          `${hostDir}/workspace.img`,
          path.join(harness.dataDir, 'sandboxes'),
          harness.dataDir,
        ]
          .map((target) => `cat ${target} 2>&1 || ls ${target} 2>&1`)
          .join('; ') + '; ls -d /tmp/hangar-e2e-* 2>&1',
      ],
      [
        'victim_proc',
        `for p in ${pids}; do for f in root/workspace/victim.txt cwd/victim.txt root/home/agent/victim-home.txt root/tmp/victim-tmp.txt environ cmdline; do cat /proc/$p/$f 2>/dev/null && echo "READ $p/$f"; done; done; echo victim-proc-done`,
      ],
      [
        'every_proc',
        'cat /proc/[0-9]*/root/workspace/victim.txt /proc/[0-9]*/cwd/victim.txt /proc/[0-9]*/root/home/agent/victim-home.txt /proc/[0-9]*/root/tmp/victim-tmp.txt 2>/dev/null | wc -l; echo /proc/[0-9]* | wc -w',
      ],
      [
        'search',
        `${search('/ --exclude-dir=proc --exclude-dir=usr --exclude-dir=sys --exclude-dir=dev')}; ${search('/proc/[0-9]*/environ /proc/[0-9]*/cmdline')}; ` +
          // Control: the same search finds a marker the attacker wrote itself.
          `printf "%s\\n" ${rebuilt(`own-${victimMark}`)} > /tmp/own.txt; grep -rlsaF -f <(printf "%s\\n" ${rebuilt(`own-${victimMark}`)}) / --exclude-dir=proc --exclude-dir=usr --exclude-dir=sys --exclude-dir=dev`,
      ],
      [
        'cgroups',
        ['/sys/fs/cgroup', ...victim.cgroupPaths.map((dir) => path.join(dir, 'cgroup.procs'))].map((target) => `ls ${target} 2>&1 | head -1`).join('; ') +
          `; echo $$ > ${victim.cgroupPaths[0]}/cgroup.procs; cat /proc/self/cgroup | head -2`,
      ],
      ['loop_devices', 'ls /dev/loop* /dev/mapper 2>&1 | head -2; losetup -a 2>&1 | head -1; blkid 2>&1 | head -1; echo loop-done'],
      [
        'victim_sockets',
        `timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${VICTIM_PORT}' 2>/dev/null && echo CONNECTED-TCP || echo refused-tcp\n` +
          python(
            `import socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect('\\0${abstractName}'); print('CONNECTED-UNIX', s.recv(64))\nexcept OSError as e:\n    print('refused-unix', e.strerror)`,
          ),
      ],
      ['victim_kill', `for p in ${pids}; do kill -9 $p 2>&1; done; echo kill-done`],
      [
        'victim_ptrace_setuid',
        python(
          `import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nfor pid in [${victimPids.join(', ')}]:\n    r = libc.ptrace(16, pid, 0, 0); print('ptrace', r, os.strerror(ctypes.get_errno()))\nfor name, call in (('setuid', os.setuid), ('setgid', os.setgid)):\n    try:\n        call(${victimUid}); print(name, 'CHANGED')\n    except OSError as e:\n        print(name, e.strerror)`,
        ),
      ],
    ];
    const run = await runAgentTask(harness, [attemptsScript(attempts)], { prompt: 'Read the other sandbox.' });
    attacker = run.task;
    report = run.results.join('\n');

    // The victim, untouched and still running.
    victimStillSleeping = sandboxUidRunningSleep(sleep.marker);
    victimFilesAfter = {
      workspace: readFileSync(path.join(hostDir, 'workspace', 'victim.txt'), 'utf8'),
      home: readFileSync(path.join(hostDir, 'scratch', 'home', 'victim-home.txt'), 'utf8'),
      tmp: readFileSync(path.join(hostDir, 'scratch', 'tmp', 'victim-tmp.txt'), 'utf8'),
    };
    victimWorkspaceAfter = readdirSync(path.join(hostDir, 'workspace')).filter((name) => name !== 'lost+found');
    cancelled = await harness.client.cancelTask(victimTask.id);

    // A task after the victim's end, in a new sandbox: nothing of the victim's is left to find.
    const next = await runAgentTask(
      harness,
      [attemptsScript([['residue', search(`/ --exclude-dir=proc --exclude-dir=usr --exclude-dir=sys --exclude-dir=dev`)]])],
      {
        prompt: 'Look for what the last sandbox left.',
      },
    );
    residueTask = next.task;
    residue = checkOutput(next.results.join('\n'), 'residue');
  }, 240_000);

  afterAll(async () => {
    await harness?.close();
  });

  const output = (name: string): string => checkOutput(report, name);

  it('ran every attempt while the victim was live, in a sandbox of its own', () => {
    expect(attacker.error).toBeNull();
    expect(attacker.status).toBe('succeeded');
    expect(attacker.sandbox?.sandboxId).not.toBe(victim.id);
    const attackerSandbox = harness.sandboxes.get(attacker.sandbox!.sandboxId)!.sandbox as LocalSandbox;
    expect(attackerSandbox.hostUid).not.toBe(victimUid);
    expect(victimPids.length).toBeGreaterThan(2);
    expect(report).not.toContain(victimMark);
  });

  it("cannot read the victim's workspace, home or /tmp by host path, or see the data directory", () => {
    expect(output('host_paths').match(/No such file or directory/g)?.length).toBe(13);
  });

  it("cannot reach the victim through /proc: not by the victim's pids, not through any process it sees", () => {
    expect(output('victim_proc')).toBe('victim-proc-done');
    const [read, processes] = output('every_proc').split(/\s+/).map(Number);
    expect(read).toBe(0);
    expect(processes).toBeGreaterThan(2);
  });

  it('finds the marker nowhere in its filesystem or /proc, though the same search finds its own', () => {
    const [files, procEntries, ...own] = output('search').split(/\s+/);
    expect(files).toBe('0');
    expect(procEntries).toBe('0');
    expect(own).toEqual(['/tmp/own.txt']);
  });

  it("sees no cgroup tree, no loop device, and no listener of the victim's", () => {
    expect(output('cgroups').match(/No such file or directory/g)!.length).toBeGreaterThanOrEqual(victim.cgroupPaths.length + 2);
    expect(output('loop_devices')).not.toMatch(/\/dev\/loop\d/);
    expect(output('loop_devices')).toMatch(/loop-done$/);
    expect(output('victim_sockets')).toBe('refused-tcp refused-unix Connection refused');
  });

  it('cannot kill or ptrace the victim, or take its uid', () => {
    expect(output('victim_kill').match(/No such process/g)).toHaveLength(victimPids.length);
    expect(output('victim_ptrace_setuid').match(/ptrace -1 Operation not permitted/g)).toHaveLength(victimPids.length);
    expect(output('victim_ptrace_setuid')).toMatch(/setuid Invalid argument setgid Invalid argument$/);
  });

  it('left the victim untouched: its files, its processes, and it cancels normally', () => {
    expect(victimStillSleeping).toBe(victimUid);
    expect(victimFilesAfter).toEqual({ workspace: `${victimMark}\n`, home: `${victimMark}\n`, tmp: `${victimMark}\n` });
    expect(victimWorkspaceAfter).toEqual(['victim.txt']);
    expect(cancelled.status).toBe('cancelled');
  });

  it("leaves nothing of the victim's for the next task's sandbox to find", () => {
    expect(residueTask.status).toBe('succeeded');
    expect(residueTask.sandbox?.sandboxId).not.toBe(victim.id);
    expect(residue).toBe('0');
  });
});
