// The long-lived host shell that runs mount/umount/losetup for the local provider.
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createHostShell, HostCommandError } from '../../src/sandbox/host-shell.js';
import { isRunning } from '../helpers/sandbox-host.js';

describe('host shell', () => {
  const shell = createHostShell();
  afterAll(() => shell.close());

  it('passes arguments through unchanged, quotes and all, and returns the output', async () => {
    const awkward = ["it's", '$(id)', '`id`', 'a b', '"x"', '\\n', ';', '*'];
    expect(await shell.run('printf', ['%s|', ...awkward])).toBe(`${awkward.join('|')}|`);
  });

  it('runs commands in order and with an empty environment', async () => {
    const results = await Promise.all([shell.run('echo', ['one']), shell.run('env', []), shell.run('echo', ['three'])]);
    expect(results[0]).toBe('one');
    expect(results[1]?.split('\n').filter((line) => line !== '' && !line.startsWith('PWD='))).toEqual([]);
    expect(results[2]).toBe('three');
  });

  it('rejects a failing command with its exit code and output', async () => {
    const error = await shell.run('sh', ['-c', 'echo broken >&2; exit 3']).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HostCommandError);
    expect(error).toMatchObject({ exitCode: 3, stderr: 'broken' });
    expect(await shell.run('echo', ['still works'])).toBe('still works');
  });

  it('gives up on a hung command and carries on with a fresh shell', async () => {
    await expect(shell.run('sh', ['-c', 'echo $$ > /tmp/hangar-host-shell-test.pid; exec sleep 30'], { timeoutMs: 300 })).rejects.toThrow(/timed out/);
    const hungPid = Number(readFileSync('/tmp/hangar-host-shell-test.pid', 'utf8'));
    rmSync('/tmp/hangar-host-shell-test.pid', { force: true });
    // The hung command died with the shell.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await isRunning(hungPid)).toBe(false);
    expect(await shell.run('echo', ['after the timeout'])).toBe('after the timeout');
  });
});
