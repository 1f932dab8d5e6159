// Attack: a process inside a real sandbox opens loopback TCP connection pairs in the sandbox's own
// network namespace and fills their buffers without ever reading. On cgroup v1 the kernel counts
// TCP buffers apart from memory.limit_in_bytes; unlimited, this attack took ~2.2 GiB of host
// memory (the host-wide net.ipv4.tcp_mem) while the sandbox's memory group showed 4 MiB. The
// sandbox's TCP limit (v1) or memory.max (v2) must hold it: writes block, the memory charged stays
// within the sandbox's limits and the host's MemAvailable drops by no more than about those limits.
import { randomBytes } from 'node:crypto';
import { readFile, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectCgroupLayout, tcpLimitBytes } from '../../src/sandbox/cgroups.js';
import { createLocalSandboxProvider } from '../../src/sandbox/providers/local.js';
import { makeSandboxRoot } from '../helpers/sandbox-host.js';

const MIB = 1024 * 1024;
const MEMORY_MB = 256;
const PAIRS = 100;
/**
 * What the kernel charges past a TCP limit: some charges cannot be refused (__GFP_NOFAIL on the
 * receive and ACK paths); measured ~1 MiB over for 200 sockets, allowed 16 KiB per socket.
 */
const FORCED_CHARGE_BYTES = 2 * PAIRS * 16 * 1024;
/** Host memory other processes may take during the test besides the sandbox's. */
const HOST_NOISE_BYTES = 192 * MIB;

/**
 * Opens PAIRS connection pairs on 127.0.0.1, asks 4 MiB socket buffers, and writes 64 KiB chunks
 * on both ends of each pair (non-blocking) until the kernel refuses more; nobody reads. Prints the
 * bytes accepted, then holds every socket open until stdin closes.
 */
const FILL_SCRIPT = String.raw`
use strict; use warnings; use Socket; use IO::Socket::INET;
my ($pairs, $buf) = (shift, 4194304);
my $listener = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 4096, ReuseAddr => 1) or die "listen: $!";
my @keep; my $written = 0; my $blocked = 0; my $errors = 0;
my $chunk = 'x' x 65536;
sub fill { my ($sock) = @_; setsockopt($sock, SOL_SOCKET, SO_SNDBUF, $buf); $sock->blocking(0);
  for (1 .. 4096) { my $n = syswrite($sock, $chunk); if (!defined $n) { if ($!{EAGAIN}) { $blocked++ } else { $errors++ } return } $written += $n } }
for (1 .. $pairs) {
  my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $listener->sockport) or do { $errors++; last };
  setsockopt($c, SOL_SOCKET, SO_RCVBUF, $buf);
  my $s = $listener->accept or do { $errors++; last };
  push @keep, $c, $s; fill($c); fill($s);
}
$| = 1; printf "pairs=%d written=%d blocked=%d errors=%d\n", @keep / 2, $written, $blocked, $errors;
<STDIN>;
`;

async function memAvailableBytes(): Promise<number> {
  const meminfo = await readFile('/proc/meminfo', 'utf8');
  return Number(/^MemAvailable:\s+(\d+) kB/m.exec(meminfo)?.[1]) * 1024;
}

const readNumber = (dir: string, file: string): Promise<number> => readFile(path.join(dir, file), 'utf8').then((text) => Number(text.trim()));

const isRoot = process.getuid?.() === 0;
const parent = `hangar-test-tcp-${randomBytes(4).toString('hex')}`;
const roots: string[] = [];

afterAll(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
  const layout = await detectCgroupLayout().catch(() => undefined);
  const hierarchies = layout === undefined ? [] : [layout.unifiedRoot, layout.killRoot, ...Object.values(layout.v1Roots)];
  for (const root of new Set(hierarchies)) if (root !== undefined) await rmdir(path.join(root, parent)).catch(() => undefined);
});

describe.skipIf(!isRoot)('attack: TCP buffers filled inside a sandbox', () => {
  it('stay within the sandbox\'s limits: writes block and the host keeps its memory', async () => {
    const rootDir = await makeSandboxRoot();
    roots.push(rootDir);
    const layout = await detectCgroupLayout();
    const provider = createLocalSandboxProvider({ rootDir, cgroupParent: parent, workspaceBacking: 'tmpfs', warmPoolSize: 0 });
    const sandbox = await provider.create({ resources: { memoryMb: MEMORY_MB, cpus: 1, diskMb: 64, pids: 64 }, bridges: [] });
    try {
      const memoryDir = layout.version === 'v2' ? sandbox.cgroupPaths[0]! : sandbox.cgroupPaths.find((dir) => dir.startsWith(`${layout.v1Roots.memory!}/`))!;
      // v1: TCP buffers have their own counter and limit; v2: they are part of memory.current.
      const tcpLimit = layout.version === 'v1' ? await readNumber(memoryDir, 'memory.kmem.tcp.limit_in_bytes') : 0;
      if (layout.version === 'v1') expect(tcpLimit).toBe(tcpLimitBytes(MEMORY_MB * MIB));
      const availableBefore = await memAvailableBytes();

      const attacker = sandbox.spawn({ command: '/usr/bin/perl', args: ['-e', FILL_SCRIPT, String(PAIRS)], env: { PATH: '/usr/bin:/bin' } });
      let output = '';
      attacker.stdout.setEncoding('utf8');
      const report = await new Promise<string>((resolve, reject) => {
        attacker.stdout.on('data', (chunk: string) => {
          output += chunk;
          if (output.includes('\n')) resolve(output.trim());
        });
        attacker.once('exit', (code) => reject(new Error(`the attacker exited (${code}) before filling: ${output}`)));
      });
      // Every socket is still open and full now: measure while the attacker holds them.
      const availableDuring = await memAvailableBytes();
      const charged =
        layout.version === 'v1'
          ? { memory: await readNumber(memoryDir, 'memory.usage_in_bytes'), tcp: await readNumber(memoryDir, 'memory.kmem.tcp.usage_in_bytes') }
          : { memory: await readNumber(memoryDir, 'memory.current'), tcp: 0 };
      const fields = Object.fromEntries(report.split(' ').map((field) => field.split('=') as [string, string]));
      attacker.stdin.end();
      await new Promise((resolve) => attacker.once('exit', resolve));
      console.log(`tcp attack: ${report}; charged memory ${(charged.memory / MIB).toFixed(1)} MiB, tcp ${(charged.tcp / MIB).toFixed(1)} MiB; host MemAvailable fell ${((availableBefore - availableDuring) / MIB).toFixed(0)} MiB`);

      expect(Number(fields.pairs)).toBe(PAIRS);
      // The kernel stopped taking data long before the attack's ~2 GiB: writes would block.
      expect(Number(fields.blocked)).toBeGreaterThan(0);
      expect(Number(fields.written)).toBeLessThanOrEqual(MEMORY_MB * MIB + tcpLimit);
      if (layout.version === 'v1') expect(charged.tcp).toBeLessThanOrEqual(tcpLimit + FORCED_CHARGE_BYTES);
      expect(charged.memory).toBeLessThanOrEqual(MEMORY_MB * MIB);
      expect(availableBefore - availableDuring).toBeLessThanOrEqual(MEMORY_MB * MIB + tcpLimit + FORCED_CHARGE_BYTES + HOST_NOISE_BYTES);
    } finally {
      await sandbox.destroy();
      await provider.close();
    }
  }, 120_000);
});
