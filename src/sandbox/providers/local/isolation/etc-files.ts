// What a local sandbox sees in /etc and which /proc files are masked: pure builders of bubblewrap
// arguments, plus the one host read (which allowed /etc entries exist).
//
// /etc inside is not the host's: it is an empty directory holding
//   - files Hangar generates per sandbox (passwd, group, hosts, hostname, resolv.conf,
//     nsswitch.conf), kept on the sandbox's own scratch filesystem so that no host path shows in
//     /proc/self/mountinfo for them;
//   - the host entries programs need to run (ETC_ALLOWLIST: the dynamic linker cache, the
//     alternatives links behind /usr/bin/awk and friends, CA certificates, time zone, MIME and
//     protocol tables, shell and editor defaults, language runtimes' configuration), read-only.
// Everything else of the host's /etc (database and web server configuration, machine-id, ssh
// host keys, shadow files, the host's hostname and network setup) is absent.
import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';

/** Host /etc entries bound read-only into every sandbox when the host has them. */
export const ETC_ALLOWLIST: readonly string[] = [
  // Dynamic linker and system identity tools rely on.
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'os-release',
  'debian_version',
  'lsb-release',
  // Debian's alternatives: /usr/bin/awk, editor, pager, java... are links through here.
  'alternatives',
  // TLS trust and crypto configuration.
  'ssl',
  'ca-certificates',
  'ca-certificates.conf',
  'pki',
  'crypto-policies',
  'gnutls',
  // Time, locale, MIME and protocol tables.
  'localtime',
  'timezone',
  'locale.alias',
  'locale.conf',
  'mime.types',
  'magic',
  'magic.mime',
  'protocols',
  'services',
  'rpc',
  'ethertypes',
  'gai.conf',
  'host.conf',
  'networks',
  // Shells, terminals and editors.
  'bash.bashrc',
  'profile',
  'profile.d',
  'inputrc',
  'shells',
  'terminfo',
  'vim',
  'nanorc',
  'skel',
  'login.defs',
  // Language runtimes and developer tools (not npmrc, pip.conf, gitconfig or environment: they may
  // carry the host's tokens or proxies).
  'python3',
  'perl',
  'java-17-openjdk',
  'java-21-openjdk',
  'maven',
  'ssh/ssh_config',
  'ssh/ssh_config.d',
  'dpkg',
  'fonts',
  'xml',
  'sgml',
  'mke2fs.conf',
  'wgetrc',
  'manpath.config',
  // mtab is a link to /proc/self/mounts (df reads it).
  'mtab',
];

/** Files generated for each sandbox and bound at /etc/<name>. */
export const GENERATED_ETC_FILES = ['passwd', 'group', 'hosts', 'hostname', 'resolv.conf', 'nsswitch.conf'] as const;
export type GeneratedEtcFile = (typeof GENERATED_ETC_FILES)[number];

/** /proc files that show the host (kernel command line) or its kernel internals: masked. */
export const PROC_CMDLINE = '/proc/cmdline';
export const PROC_MASKED_EMPTY: readonly string[] = [
  '/proc/kallsyms',
  '/proc/kcore',
  '/proc/sched_debug',
  '/proc/timer_list',
  '/proc/keys',
  '/proc/key-users',
  '/proc/config.gz',
];

/** The contents of the generated files, for a sandbox user of `uid` with home `home` and host name `hostname`. */
export function generatedEtcContents(options: { uid: number; home: string; hostname: string }): Record<GeneratedEtcFile, string> {
  const { uid, home, hostname } = options;
  return {
    passwd: `agent:x:${uid}:${uid}:agent:${home}:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
    group: `agent:x:${uid}:\nnogroup:x:65534:\n`,
    hosts: `127.0.0.1\tlocalhost ${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
    hostname: `${hostname}\n`,
    // No resolver is reachable from a sandbox: names resolve from /etc/hosts only.
    'resolv.conf': '# Hangar sandbox: no DNS server is reachable from inside.\noptions timeout:1 attempts:1\n',
    'nsswitch.conf':
      'passwd: files\ngroup: files\nshadow: files\nhosts: files\nnetworks: files\nprotocols: files\nservices: files\nethers: files\nrpc: files\n',
  };
}

/** What the host has of an allowed entry: a directory or file to bind, or a link to recreate. */
export type HostEtcEntry = { name: string; kind: 'bind' } | { name: string; kind: 'symlink'; target: string };

/** Reads which allowed /etc entries exist on the host (links are kept as links). */
export async function readHostEtcEntries(allowlist: readonly string[] = ETC_ALLOWLIST, etcDir = '/etc'): Promise<HostEtcEntry[]> {
  const entries: HostEtcEntry[] = [];
  for (const name of allowlist) {
    const hostPath = path.join(etcDir, name);
    try {
      const info = await lstat(hostPath);
      if (info.isSymbolicLink()) entries.push({ name, kind: 'symlink', target: await readlink(hostPath) });
      else if (info.isFile() || info.isDirectory()) entries.push({ name, kind: 'bind' });
    } catch {
      // Not on this host.
    }
  }
  return entries;
}

/** Lists which /proc files to mask exist on the host (a bind needs its destination). */
export async function readMaskableProcFiles(candidates: readonly string[] = PROC_MASKED_EMPTY): Promise<string[]> {
  const present: string[] = [];
  for (const file of candidates)
    if (
      await lstat(file).then(
        () => true,
        () => false,
      )
    )
      present.push(file);
  return present;
}

/**
 * bwrap arguments building /etc: an empty directory, the host's allowed entries read-only, and the
 * sandbox's generated files from `generatedDir` (a host path on the sandbox's own filesystem).
 */
export function etcArgs(hostEntries: readonly HostEtcEntry[], generatedDir: string): string[] {
  const args = ['--dir', '/etc'];
  const generated = new Set<string>(GENERATED_ETC_FILES);
  for (const entry of hostEntries) {
    if (generated.has(entry.name)) continue;
    const inside = path.posix.join('/etc', entry.name);
    if (entry.kind === 'symlink') args.push('--symlink', entry.target, inside);
    else args.push('--ro-bind', inside, inside);
  }
  for (const name of GENERATED_ETC_FILES) args.push('--ro-bind', path.join(generatedDir, name), path.posix.join('/etc', name));
  return args;
}

/**
 * bwrap arguments masking /proc files (after --proc): the command line replaced by `cmdlineFile`,
 * the others by `emptyFile` (a regular file: binds are nodev, so /dev/null would not open).
 */
export function procMaskArgs(masked: readonly string[], files: { cmdline: string; empty: string }): string[] {
  const args = ['--ro-bind', files.cmdline, PROC_CMDLINE];
  for (const file of masked) args.push('--ro-bind', files.empty, file);
  return args;
}
