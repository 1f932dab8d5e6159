// What `hangar serve` and `hangar run` do before anything runs, as real processes: a model URL
// without a scheme is refused naming its variable; no key for the default upstream is refused with
// a hint (the key, or --demo); as a user that cannot run sandboxes, serve starts but is not ready.
// None of these creates a sandbox.
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCli, stopCli, waitForOutput } from '../helpers/cli-process.js';

/** A port nothing listens on (so `hangar run` finds no server at its configured address). */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('startup checks', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-startup-'));
  // The unprivileged user below reaches its home through it.
  chmodSync(directory, 0o711);
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('refuses a model URL without a scheme, naming the variable', async () => {
    const dataDir = path.join(directory, 'no-scheme');
    for (const args of [
      ['serve', '--port', '0', '--data-dir', dataDir],
      ['run', '--data-dir', dataDir, 'hello'],
    ]) {
      const finished = await startCli(args, { ANTHROPIC_BASE_URL: 'localhost:18787', ANTHROPIC_API_KEY: 'sk-test' }).done;
      expect(finished.code).toBe(1);
      expect(finished.stderr).toMatch(
        /CONFIG_INVALID: .*gateway\.upstreamUrl \(set by ANTHROPIC_BASE_URL="localhost:18787"\): must be an http:\/\/ or https:\/\/ URL/,
      );
    }
    expect(existsSync(dataDir)).toBe(false);
  }, 60_000);

  it('refuses to start without a key for the default upstream, with a hint, touching nothing', async () => {
    const dataDir = path.join(directory, 'no-key');
    const serve = await startCli(['serve', '--port', '0', '--data-dir', dataDir]).done;
    expect(serve.code).toBe(1);
    expect(serve.stderr).toMatch(/no model API key/);
    expect(serve.stderr).toMatch(/ANTHROPIC_API_KEY/);
    expect(serve.stderr).toMatch(/hangar serve --demo/);
    expect(existsSync(dataDir)).toBe(false);

    // run: no server answers at its configured address, so it would start its own, and refuses.
    const privateParent = mkdtempSync(path.join(directory, 'tmp-'));
    const run = await startCli(['run', 'hello'], { HANGAR_PORT: String(await unusedPort()), TMPDIR: privateParent }).done;
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/no model API key.*hangar run --demo/s);
    // No private data directory was made (tsx keeps its cache there too).
    expect(readdirSync(privateParent).filter((entry) => entry.startsWith('hangar-run-'))).toEqual([]);
  }, 60_000);

  it('as a user that cannot run sandboxes, serve starts but /readyz answers 503 with the reason', async () => {
    const home = mkdtempSync(path.join(directory, 'nobody-'));
    chmodSync(home, 0o777);
    const nobody = 65534;
    const serve = startCli(
      ['serve', '--demo', '--port', '0', '--data-dir', path.join(home, 'data'), '--log-level', 'error'],
      { HOME: home, TMPDIR: home },
      { uid: nobody, gid: nobody },
    );
    try {
      const url = (await waitForOutput(serve, /listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
      await waitForOutput(serve, /not ready: sandboxes cannot run on this host/);
      const response = await fetch(`${url}/readyz`);
      expect(response.status).toBe(503);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('SANDBOX_UNAVAILABLE');
      expect(body.error.message).toMatch(/must run as root/);
    } finally {
      const stopped = await stopCli(serve);
      expect(stopped.code).toBe(0);
    }
  }, 60_000);
});
