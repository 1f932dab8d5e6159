// The bridge prelude of local sandboxes (socat per bridge, then a wait until each listens): checked as
// text, and run on the host's loopback without root (socat's unix side is never reached).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { bridgePrelude, type BridgeTools } from '../../../../../src/sandbox/providers/local/isolation/bridge-prelude.js';

const execFileAsync = promisify(execFile);
const withBash: BridgeTools = { bash: '/usr/bin/bash', ss: '/usr/bin/ss', socat: '/usr/bin/socat', sleep: '/usr/bin/sleep', cat: '/usr/bin/cat' };
const canRun = ['/usr/bin/bash', '/usr/bin/socat', '/usr/bin/ss', '/usr/bin/sleep', '/usr/bin/cat', '/bin/sh'].every((tool) => existsSync(tool));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('local sandbox bridge prelude', () => {
  const bridges = [
    { name: 'gateway', hostSocketPath: '/host/gw.sock', port: 4100 },
    { name: 'egress', hostSocketPath: '/host/egress.sock', port: 4101 },
  ];

  it('starts one socat per bridge, from a loopback port to the socket bound at /run/hangar/<name>.sock', () => {
    const lines = bridgePrelude(withBash, bridges);
    expect(lines.slice(0, 2)).toEqual([
      `'/usr/bin/socat' -b 262144 TCP-LISTEN:4100,bind=127.0.0.1,fork,reuseaddr 'UNIX-CONNECT:/run/hangar/gateway.sock' </dev/null >/dev/null &`,
      `'/usr/bin/socat' -b 262144 TCP-LISTEN:4101,bind=127.0.0.1,fork,reuseaddr 'UNIX-CONNECT:/run/hangar/egress.sock' </dev/null >/dev/null &`,
    ]);
  });

  it('waits with bash connects when bash is there, else with ss, else with /proc/net/tcp', () => {
    expect(bridgePrelude(withBash, bridges).join('\n')).toContain('for __hangar_port in 4100 4101; do');
    const ss = bridgePrelude({ ...withBash, bash: undefined }, bridges).join('\n');
    expect(ss).toContain(`'/usr/bin/ss' -Hltn`);
    expect(ss).toContain(`'127.0.0.1:4100 ' '127.0.0.1:4101 '`);
    const proc = bridgePrelude({ ...withBash, bash: undefined, ss: undefined }, bridges).join('\n');
    expect(proc).toContain(`'/usr/bin/cat' /proc/net/tcp`);
    // 4100 = 0x1004, in /proc/net/tcp's LISTEN (0A) row format.
    expect(proc).toContain(`': 0100007F:1004 00000000:0000 0A '`);
  });

  it('quotes tool paths for the shell', () => {
    const lines = bridgePrelude({ ...withBash, socat: "/opt/it's/socat" }, bridges.slice(0, 1));
    expect(lines[0]).toMatch(/^'\/opt\/it'\\''s\/socat' /);
  });

  it.runIf(canRun)('returns once every bridge listens, with bash and with sh and ss', async () => {
    for (const tools of [withBash, { ...withBash, bash: undefined }]) {
      const port = await freePort();
      const script = [...bridgePrelude(tools, [{ name: 'probe', hostSocketPath: '/nonexistent', port }]), 'kill $! && echo ready'].join('\n');
      const { stdout } = await execFileAsync(tools.bash ?? '/bin/sh', ['-c', script], { timeout: 20_000 });
      expect(stdout).toBe('ready\n');
    }
  });
});
