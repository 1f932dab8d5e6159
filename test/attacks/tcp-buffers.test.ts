// Attack: a process inside a real sandbox opens loopback TCP connection pairs in the sandbox's own
// network namespace and fills their buffers without ever reading. On cgroup v1 the kernel counts
// TCP buffers apart from memory.limit_in_bytes; unlimited, this attack took ~2.2 GiB of host
// memory (the host-wide net.ipv4.tcp_mem) while the sandbox's memory group showed 4 MiB. The
// sandbox's TCP limit (v1) or memory.max (v2) must hold it: writes block, the memory charged stays
// within the sandbox's limits and the host's MemAvailable drops by no more than about those limits.
// Run twice: by a process the test spawns in a sandbox of the provider, and by the real agent
// through its Bash tool in a task's sandbox while the test samples the host and the sandbox's group.
import { randomBytes } from 'node:crypto';
import { readFile, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCgroupLayout, tcpLimitBytes } from '../../src/sandbox/cgroups.js';
import type { TaskView } from '../../src/client/hangar-client.js';
import { createLocalSandboxProvider, type LocalSandbox } from '../../src/sandbox/providers/local/index.js';
import { cliSpawns, startHarness, toolResultsSent, type Harness } from '../helpers/hangar-harness.js';
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
 * Opens <pairs> connection pairs on 127.0.0.1, asks 4 MiB socket buffers, and writes 64 KiB chunks
 * on both ends of each pair (non-blocking) until the kernel refuses more; nobody reads. Prints the
 * bytes accepted, then holds every socket open for <hold> seconds when given, else until stdin closes.
 */
const FILL_SCRIPT = String.raw`
use strict; use warnings; use Socket; use IO::Socket::INET;
my ($pairs, $hold, $buf) = (shift, shift, 4194304);
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
if (defined $hold) { sleep $hold } else { <STDIN> }
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
  it("stay within the sandbox's limits: writes block and the host keeps its memory", async () => {
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
      console.log(
        `tcp attack: ${report}; charged memory ${(charged.memory / MIB).toFixed(1)} MiB, tcp ${(charged.tcp / MIB).toFixed(1)} MiB; host MemAvailable fell ${((availableBefore - availableDuring) / MIB).toFixed(0)} MiB`,
      );

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

/** The agent's task: memory for its CLI (~220 MiB) and the attack; the TCP limit derives from it. */
const AGENT_MEMORY_MB = 512;
/** Seconds the agent's script holds its full sockets, while the test samples. */
const AGENT_HOLD_SEC = 25;
/** Host memory other processes (Hangar, the CLI's launch, vitest) may take during the task. */
const AGENT_HOST_NOISE_BYTES = 256 * MIB;

interface Sample {
  available: number;
  memory: number;
  tcp: number;
}

/** The memory group of the sandbox whose CLI is running, once there is one. */
function liveMemoryDir(harness: Harness, layout: Awaited<ReturnType<typeof detectCgroupLayout>>): string | undefined {
  const spawn = cliSpawns(harness)[0];
  if (spawn === undefined) return undefined;
  const sandbox = harness.sandboxes.get(spawn.sandboxId)?.sandbox as LocalSandbox | undefined;
  if (layout.version === 'v2') return sandbox?.cgroupPaths[0];
  return sandbox?.cgroupPaths.find((dir) => dir.startsWith(`${layout.v1Roots.memory!}/`));
}

describe.skipIf(!isRoot)('attack: TCP buffers filled by the agent through Bash', () => {
  let harness: Harness;
  let task: TaskView;
  let layout: Awaited<ReturnType<typeof detectCgroupLayout>>;
  let availableBefore: number;
  let tcpLimit: number | undefined;
  const samples: Sample[] = [];

  beforeAll(async () => {
    layout = await detectCgroupLayout();
    harness = await startHarness({ scenario: { replies: [] } });
    const command = `cat > /tmp/fill.pl <<'EOF'\n${FILL_SCRIPT}\nEOF\nperl /tmp/fill.pl ${PAIRS} ${AGENT_HOLD_SEC}; echo "fill-exit=$?"`;
    harness.model.setScenario({
      replies: [
        { content: [{ type: 'tool_use', name: 'Bash', input: { command, description: 'fill TCP buffers', timeout: 120_000 } }] },
        { content: [{ type: 'text', text: 'tcp attack done' }] },
      ],
    });
    await harness.settled();
    availableBefore = await memAvailableBytes();
    let finished = false;
    const running = harness.client
      .runTask({ prompt: 'Fill TCP buffers.', allowedTools: ['Bash'], maxTurns: 4, resources: { memoryMb: AGENT_MEMORY_MB, cpus: 1, diskMb: 64 } })
      .finally(() => {
        finished = true;
      });
    // Awaited below; a failed sample must not leave its rejection unhandled.
    running.catch(() => undefined);
    // Sample the host and the sandbox's group until the task ends (the group goes with the sandbox).
    while (!finished) {
      const memoryDir = liveMemoryDir(harness, layout);
      if (memoryDir !== undefined) {
        try {
          if (layout.version === 'v1') tcpLimit ??= await readNumber(memoryDir, 'memory.kmem.tcp.limit_in_bytes');
          samples.push({
            available: await memAvailableBytes(),
            memory: await readNumber(memoryDir, layout.version === 'v1' ? 'memory.usage_in_bytes' : 'memory.current'),
            tcp: layout.version === 'v1' ? await readNumber(memoryDir, 'memory.kmem.tcp.usage_in_bytes') : 0,
          });
        } catch {
          // The sandbox is being destroyed: its group is gone.
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    task = await running;
  }, 240_000);

  afterAll(async () => {
    await harness?.close();
  });

  it("the task finishes with the attack's report", () => {
    expect(task.error).toBeNull();
    expect(task.status).toBe('succeeded');
    expect(task.result).toBe('tcp attack done');
  });

  it("the kernel refused the writes at the sandbox's limits and the host kept its memory", () => {
    const report = toolResultsSent(harness.model)[0] ?? '';
    const fields = Object.fromEntries([...report.matchAll(/(\w[\w-]*)=(\d+)/g)].map((match) => [match[1]!, Number(match[2])]));
    const limit = layout.version === 'v1' ? tcpLimit! : 0;
    const peak = {
      tcp: Math.max(...samples.map((sample) => sample.tcp)),
      memory: Math.max(...samples.map((sample) => sample.memory)),
      fall: availableBefore - Math.min(...samples.map((sample) => sample.available)),
    };
    console.log(
      `agent tcp attack: ${report.trim().replace(/\n/g, ' ')}; ${samples.length} samples: peak tcp ${(peak.tcp / MIB).toFixed(1)} MiB of ${(limit / MIB).toFixed(0)}, ` +
        `peak memory ${(peak.memory / MIB).toFixed(1)} MiB of ${AGENT_MEMORY_MB}; host MemAvailable fell at most ${(peak.fall / MIB).toFixed(0)} MiB`,
    );

    expect(fields['fill-exit']).toBe(0);
    expect(fields.pairs).toBe(PAIRS);
    expect(fields.blocked).toBeGreaterThan(0);
    expect(fields.written).toBeLessThanOrEqual(AGENT_MEMORY_MB * MIB + limit);
    // The samples saw the sockets full: the group's counter near its limit (v1).
    if (layout.version === 'v1') {
      expect(limit).toBe(tcpLimitBytes(AGENT_MEMORY_MB * MIB));
      expect(peak.tcp).toBeGreaterThan(limit / 2);
      expect(peak.tcp).toBeLessThanOrEqual(limit + FORCED_CHARGE_BYTES);
    }
    expect(peak.memory).toBeLessThanOrEqual(AGENT_MEMORY_MB * MIB);
    expect(peak.fall).toBeLessThanOrEqual(AGENT_MEMORY_MB * MIB + limit + FORCED_CHARGE_BYTES + AGENT_HOST_NOISE_BYTES);
  });
});
