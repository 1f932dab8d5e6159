// scripts/install-deps.sh (run by serve.sh and test.sh) says what it does while npm ci runs:
// a first line with what it downloads, a progress line while npm works, the time it took.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('install-deps.sh', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-install-deps-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('prints progress while npm ci runs, and fails loudly when it fails', () => {
    // A copy of the script in a project with a lockfile and no node_modules; npm and dpkg-query faked on PATH.
    const project = path.join(directory, 'project');
    const bin = path.join(directory, 'bin');
    mkdirSync(path.join(project, 'scripts'), { recursive: true });
    mkdirSync(bin);
    copyFileSync(path.join(ROOT, 'scripts/install-deps.sh'), path.join(project, 'scripts/install-deps.sh'));
    writeFileSync(path.join(project, 'package-lock.json'), '{}');
    writeFileSync(path.join(bin, 'dpkg-query'), '#!/bin/sh\nprintf "install ok installed"\n');
    writeFileSync(
      path.join(bin, 'npm'),
      '#!/bin/sh\nsleep 3\n[ -n "$FAKE_NPM_FAIL" ] && { echo "npm ERR! boom" >&2; exit 1; }\nmkdir -p node_modules && touch node_modules/.package-lock.json\n',
    );
    chmodSync(path.join(bin, 'dpkg-query'), 0o755);
    chmodSync(path.join(bin, 'npm'), 0o755);
    const env = { PATH: `${bin}:/usr/bin:/bin`, HANGAR_PROGRESS_INTERVAL_SEC: '1' };

    const ok = spawnSync('bash', [path.join(project, 'scripts/install-deps.sh')], { env, encoding: 'utf8' });
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^hangar: installing npm dependencies \(npm ci\): about 450 MB/m);
    expect(ok.stdout).toMatch(/^hangar: npm ci still running \(\d+ s, node_modules \d+ MB so far\)$/m);
    expect(ok.stdout).toMatch(/^hangar: npm dependencies installed in \d+ s$/m);

    rmSync(path.join(project, 'node_modules'), { recursive: true });
    const failed = spawnSync('bash', [path.join(project, 'scripts/install-deps.sh')], { env: { ...env, FAKE_NPM_FAIL: '1' }, encoding: 'utf8' });
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/npm ERR! boom[\s\S]*hangar: npm ci failed/);
  }, 60_000);
});
