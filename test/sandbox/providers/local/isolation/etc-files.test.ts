// The /etc and /proc builders of local sandboxes: pure argument lists, checked without root.
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ETC_ALLOWLIST,
  etcArgs,
  GENERATED_ETC_FILES,
  generatedEtcContents,
  procMaskArgs,
  readHostEtcEntries,
} from '../../../../../src/sandbox/providers/local/isolation/etc-files.js';

describe('local sandbox /etc', () => {
  it('never lets host files that may carry secrets or host identity in', () => {
    for (const hostOnly of [
      'shadow',
      'gshadow',
      'machine-id',
      'hostname',
      'hosts',
      'resolv.conf',
      'npmrc',
      'pip.conf',
      'gitconfig',
      'environment',
      'ssh',
      'sudoers',
      'postgresql',
      'passwd',
      'group',
    ]) {
      expect(ETC_ALLOWLIST).not.toContain(hostOnly);
    }
  });

  it('binds allowed entries read-only, recreates links, and puts the generated files last so they win', async () => {
    const etc = mkdtempSync(path.join(tmpdir(), 'hangar-etc-'));
    mkdirSync(path.join(etc, 'ssl'));
    writeFileSync(path.join(etc, 'mime.types'), '');
    symlinkSync('/proc/self/mounts', path.join(etc, 'mtab'));
    writeFileSync(path.join(etc, 'shadow'), 'root:secret');
    const entries = await readHostEtcEntries([...ETC_ALLOWLIST, 'hosts'], etc);
    expect(entries).toEqual([
      { name: 'ssl', kind: 'bind' },
      { name: 'mime.types', kind: 'bind' },
      { name: 'mtab', kind: 'symlink', target: '/proc/self/mounts' },
    ]);
    const args = etcArgs([...entries, { name: 'hosts', kind: 'bind' }], '/scratch/hangar');
    expect(args.slice(0, 2)).toEqual(['--dir', '/etc']);
    expect(args).toContain('/etc/ssl');
    expect(args.join(' ')).toContain('--symlink /proc/self/mounts /etc/mtab');
    // A host entry with a generated name is never bound.
    expect(args.join(' ')).not.toContain('--ro-bind /etc/hosts');
    expect(args.slice(-3)).toEqual(['--ro-bind', '/scratch/hangar/nsswitch.conf', '/etc/nsswitch.conf']);
    for (const name of GENERATED_ETC_FILES) expect(args).toContain(`/scratch/hangar/${name}`);
  });

  it('generates the sandbox user, a loopback-only hosts file and files-only name service', () => {
    const files = generatedEtcContents({ uid: 1000, home: '/home/agent', hostname: 'hangar' });
    expect(files.passwd.split('\n')[0]).toBe('agent:x:1000:1000:agent:/home/agent:/bin/bash');
    expect(files.hosts).toMatch(/^127\.0\.0\.1\tlocalhost hangar$/m);
    expect(files['nsswitch.conf']).toMatch(/^hosts: files$/m);
    expect(files['resolv.conf']).not.toMatch(/nameserver/);
  });

  it('masks /proc files with regular files (binds are nodev)', () => {
    expect(procMaskArgs(['/proc/kallsyms'], { cmdline: '/s/cmdline', empty: '/s/empty' })).toEqual([
      '--ro-bind',
      '/s/cmdline',
      '/proc/cmdline',
      '--ro-bind',
      '/s/empty',
      '/proc/kallsyms',
    ]);
  });
});
