// The scripts and data of local sandbox launches: checked as values, and run with sh and bash on the
// host without root (the cgroup.procs files are plain files here, the launch spec a temp file).
import { execFile, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  cgroupJoinScript,
  environmentArgs,
  launchCommand,
  launcherScript,
  launcherSpec,
  NO_STARTUP_FILES,
  nulSeparated,
  scriptShell,
} from '../../../../../src/sandbox/providers/local/isolation/launcher-script.js';
import { useTempDir } from '../../../../helpers/temp-dirs.js';

const execFileAsync = promisify(execFile);
const tools = { sh: '/bin/sh', bash: '/usr/bin/bash', ss: '/usr/bin/ss', socat: '/usr/bin/socat', sleep: '/usr/bin/sleep', cat: '/usr/bin/cat' };
const dir = useTempDir('hangar-launcher-');

describe('local sandbox launch scripts', () => {
  it('carries environments and specs NUL-separated, never in argv', () => {
    expect(nulSeparated(['a', '', 'b c'])).toEqual(Buffer.from('a\0\0b c\0'));
    expect(environmentArgs({})).toEqual(Buffer.from('--clearenv\0'));
    expect(environmentArgs({ A: '1', B: 'x y' }).toString().split('\0')).toEqual(['--clearenv', '--setenv', 'A', '1', '--setenv', 'B', 'x y', '']);
    const spec = launcherSpec({ cwd: '/workspace', copyName: undefined, env: { A: '1' }, command: 'claude', args: ['-p', 'hi'] });
    expect(spec.toString().split('\0')).toEqual(['/workspace', '', '1', 'A=1', 'claude', '-p', 'hi', '']);
  });

  it('runs launch scripts in bash without startup files, or in sh', () => {
    expect(NO_STARTUP_FILES).toEqual(['--norc', '--noprofile']);
    expect(scriptShell(tools)).toEqual(['/usr/bin/bash', '--norc', '--noprofile']);
    expect(scriptShell({ ...tools, bash: undefined })).toEqual(['/bin/sh']);
  });

  it('runs the command itself without bridges, behind the bridge prelude with them', () => {
    expect(launchCommand(tools, [], 'claude', ['-p'])).toEqual(['claude', '-p']);
    const withBridges = launchCommand(tools, [{ name: 'gw', hostSocketPath: '/h/gw.sock', port: 4100 }], 'claude', ['-p']);
    expect(withBridges.slice(0, 4)).toEqual(['/usr/bin/bash', '--norc', '--noprofile', '-c']);
    expect(withBridges[4]).toMatch(/TCP-LISTEN:4100[^]*\nexec "\$@"$/);
    expect(withBridges.slice(5)).toEqual(['hangar-bridges', 'claude', '-p']);
  });

  it('joins every cgroup, raises its OOM score, then execs the command', async () => {
    const procs = [path.join(dir, 'memory procs'), path.join(dir, "pids'procs")];
    await Promise.all(procs.map((file) => writeFile(file, '')));
    const { stdout } = await execFileAsync('/bin/sh', [
      '-c',
      cgroupJoinScript(procs),
      'hangar-sandbox',
      '/bin/sh',
      '-c',
      'echo $$; cat /proc/self/oom_score_adj',
    ]);
    const [pid, score] = stdout.trim().split('\n');
    for (const file of procs) expect((await readFile(file, 'utf8')).trim()).toBe(pid);
    expect(score).toBe('1000');
  });

  it('fails before the command when a cgroup cannot be joined', async () => {
    const script = cgroupJoinScript([path.join(dir, 'missing', 'cgroup.procs')]);
    await expect(execFileAsync('/bin/sh', ['-c', script, 'hangar-sandbox', '/bin/echo', 'ran'])).rejects.toMatchObject({ code: 125, stdout: '' });
  });

  it('waits for its go line, then runs the spec with only its environment and in its directory', async () => {
    const specPath = path.join(dir, 'spec-0');
    const script = launcherScript({ prelude: [], specPath, tar: '/usr/bin/tar', env: '/usr/bin/env' });
    const child = spawn('/usr/bin/bash', [...NO_STARTUP_FILES, '-c', script, 'hangar-launcher'], {
      env: { LEAKED: 'host' },
      cwd: '/',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    // The spec is written after the launcher started, as a hand-off does.
    const command = ['/bin/sh', '-c', 'printf "%s|%s|%s|%s" "$GREETING" "$LEAKED" "$(pwd)" "$1"', 'sh', 'it is "quoted"'];
    await writeFile(
      specPath,
      launcherSpec({ cwd: dir, copyName: undefined, env: { GREETING: 'a b=c' }, command: command[0] as string, args: command.slice(1) }),
    );
    child.stdin.end('\n');
    expect(await exited).toBe(0);
    expect(stdout).toBe(`a b=c||${dir}|it is "quoted"`);
  });

  it('exits 125 without running anything when stdin closes before the go line', async () => {
    const script = launcherScript({ prelude: [], specPath: path.join(dir, 'never'), tar: '/usr/bin/tar', env: '/usr/bin/env' });
    const run = execFileAsync('/usr/bin/bash', [...NO_STARTUP_FILES, '-c', script, 'hangar-launcher']);
    run.child.stdin?.end();
    await expect(run).rejects.toMatchObject({ code: 125 });
  });
});
