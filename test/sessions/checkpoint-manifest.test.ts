// Whole-state checkpoints without root: what the archive holds (workspace and HOME, less the CLI's
// own state and the excluded caches), the manifest a checkpoint records (archive size and sha256,
// transcript position and hash), and a restore that verifies it first and fails naming the
// checkpoint, having unpacked nothing, on any mismatch. Archives are made by a real host tar
// (test/helpers/host-process-sandbox.ts) over temporary directories.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { archiveCreateArgs, archiveExtractArgs, checkHomeExclude, CLI_STATE_EXCLUDES } from '../../src/sessions/checkpoint-archive.js';
import { createCheckpointKeeper, type CheckpointKeeper } from '../../src/sessions/checkpoint-keeper.js';
import { transcriptDigest } from '../../src/sessions/checkpoint-manifest.js';
import { snapshotLimits } from '../../src/sessions/workspace-snapshots.js';
import { parseConfig } from '../../src/config/config.js';
import { createInMemoryStore } from '../../src/store/in-memory/index.js';
import { createLocalBlobStore } from '../../src/store/blobs/local.js';
import type { BlobStore } from '../../src/store/blobs/blob-store.js';
import type { Store } from '../../src/store/store.js';
import { hostProcessSandbox } from '../helpers/host-process-sandbox.js';

const logger = pino({ level: 'silent' });

describe('checkpoint archive arguments', () => {
  it("archive both trees from / with the CLI's state excluded by pattern and the configured paths literally", () => {
    const args = archiveCreateArgs({ workspacePath: '/workspace', homePath: '/home/agent' }, ['.cache', '.npm/_cacache/']);
    expect(args.slice(-2)).toEqual(['workspace', 'home/agent']);
    expect(args).toEqual(expect.arrayContaining(['--zstd', '--create', '--sparse', '--directory', '/', '--anchored']));
    const wildcards = args.indexOf('--wildcards');
    const literal = args.indexOf('--no-wildcards');
    expect(args.slice(wildcards + 1, literal)).toEqual(CLI_STATE_EXCLUDES.map((pattern) => `--exclude=home/agent/${pattern}`));
    expect(args.slice(literal + 1, -2)).toEqual(['--exclude=home/agent/.cache', '--exclude=home/agent/.npm/_cacache']);
    expect(CLI_STATE_EXCLUDES).toContain('.claude/projects/*.jsonl');
    expect(CLI_STATE_EXCLUDES).toContain('.claude/shell-snapshots');
  });

  it('extract a current archive at / and a workspace-only one (format 1) into the workspace', () => {
    expect(archiveExtractArgs({ workspacePath: '/workspace', homePath: '/home/agent' }, 2)).toEqual([
      '--zstd',
      '--extract',
      '--file=-',
      '--directory',
      '/',
      '--no-same-owner',
    ]);
    expect(archiveExtractArgs({ workspacePath: '/workspace', homePath: '/home/agent' }, 1)).toContain('/workspace');
  });

  it('refuse exclude entries that are not plain relative paths under HOME', () => {
    for (const bad of ['', '/etc', '../x', 'a/../b', './a', 'a//b']) expect(() => checkHomeExclude(bad), bad).toThrow(/relative path under HOME/);
    expect(checkHomeExclude('.npm/_cacache/')).toBe('.npm/_cacache');
    expect(parseConfig({}).sessions.checkpointHomeExcludes).toEqual(['.cache', '.npm/_cacache']);
    expect(() => parseConfig({ sessions: { checkpointHomeExcludes: ['../escape'] } })).toThrow();
  });
});

describe('checkpoint manifests', () => {
  let root: string;
  let workspace: string;
  let home: string;
  let store: Store;
  let blobs: BlobStore;
  let keeper: CheckpointKeeper;
  const limits = snapshotLimits({ snapshotTimeoutMs: 30_000 }, 16);
  const projectKey = '-workspace';
  const agentSessionId = 'agent-1';

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'hangar-manifest-'));
    workspace = path.join(root, 'workspace');
    home = path.join(root, 'home');
    const files: Record<string, string> = {
      'workspace/src/main.ts': 'export const answer = 42;\n',
      'home/.claude/CLAUDE.md': '# user memory\n',
      'home/.claude/projects/-workspace/agent-1.jsonl': '{"transcript":true}\n',
      'home/.claude/projects/-workspace/memory/MEMORY.md': 'kept\n',
      'home/.claude/shell-snapshots/snapshot-bash.sh': 'export X=1\n',
      'home/.local/bin/tool': '#!/bin/sh\necho tool\n',
      'home/.gitconfig': '[user]\n\tname = x\n',
      'home/.cache/pip/wheel': 'cached\n',
      'home/.npm/_cacache/index-v5/aa': 'cached\n',
      'home/.npm/_logs/debug.log': 'kept\n',
    };
    for (const [file, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(root, file)), { recursive: true });
      await writeFile(path.join(root, file), content);
    }
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });
  beforeEach(async () => {
    store = createInMemoryStore();
    const directory = await mkdtemp(path.join(root, 'case-'));
    blobs = createLocalBlobStore({ directory: path.join(directory, 'blobs') });
    keeper = createCheckpointKeeper({ store, blobs, retention: 5, logger, homeExcludes: ['.cache', '.npm/_cacache'], restoreTimeoutMs: 30_000 });
    await store.transcripts.append({ projectKey, sessionId: agentSessionId }, [
      { type: 'user', uuid: 'u1', message: 'first' },
      { type: 'assistant', uuid: 'a1', message: 'answer' },
    ]);
  });

  const take = () =>
    keeper.take({
      sessionId: 's1',
      turn: 1,
      sandbox: hostProcessSandbox(() => 'exec tar "$@"', workspace, home),
      limits,
      agentSessionId,
      transcriptProjectKey: projectKey,
    });

  /** A sandbox whose "tar" lists the archive it is given into a file instead of extracting it. */
  const listingSandbox = (listFile: string) => hostProcessSandbox(() => `exec tar --zstd -t -f - > ${listFile}`, workspace, home);

  it("records the archive's size and sha256 and the transcript's position and hash", async () => {
    const checkpoint = await take();
    const blob = await readAll(await blobs.get(checkpoint.blobKey));
    expect(checkpoint.manifest).toEqual({
      format: 2,
      archive: { sizeBytes: blob.length, sha256: createHash('sha256').update(blob).digest('hex') },
      transcript: {
        projectKey,
        agentSessionId,
        entries: 2,
        sha256: transcriptDigest((await store.transcripts.load({ projectKey, sessionId: agentSessionId }))!),
      },
      homeExcludes: ['.cache', '.npm/_cacache'],
    });
    expect(checkpoint.sizeBytes).toBe(blob.length);
    expect(checkpoint.transcriptEntries).toBe(2);
  });

  it("holds the workspace and HOME but not the CLI's transcripts and shell snapshots nor the excluded caches", async () => {
    const checkpoint = await take();
    const listFile = path.join(root, 'listed.txt');
    await keeper.restore(listingSandbox(listFile), checkpoint);
    const members = (await readFile(listFile, 'utf8')).split('\n').filter((line) => !line.endsWith('/') && line !== '');
    const relative = members.map((member) => member.replace(workspace.slice(1), 'W').replace(home.slice(1), 'H')).sort();
    expect(relative).toEqual([
      'H/.claude/CLAUDE.md',
      'H/.claude/projects/-workspace/memory/MEMORY.md',
      'H/.gitconfig',
      'H/.local/bin/tool',
      'H/.npm/_logs/debug.log',
      'W/src/main.ts',
    ]);
  });

  it('fails a restore naming the checkpoint, having spawned nothing, when a byte of the archive changed', async () => {
    const checkpoint = await take();
    const bytes = await readAll(await blobs.get(checkpoint.blobKey));
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await blobs.put(checkpoint.blobKey, bytes);
    const target = listingSandbox(path.join(root, 'never.txt'));
    const failure = keeper.restore(target, checkpoint);
    await expect(failure).rejects.toMatchObject({ code: 'CHECKPOINT_CORRUPT', details: { checkpointId: checkpoint.id, mismatch: 'archive_sha256' } });
    await expect(failure).rejects.toThrow(new RegExp(`checkpoint ${checkpoint.id} of session s1 cannot be restored`));
    expect(target.requests).toEqual([]);
  });

  it('fails on a truncated, a longer and a missing archive', async () => {
    const checkpoint = await take();
    const bytes = await readAll(await blobs.get(checkpoint.blobKey));
    await blobs.put(checkpoint.blobKey, bytes.subarray(0, bytes.length - 1));
    await expect(keeper.restore(listingSandbox('/dev/null'), checkpoint)).rejects.toMatchObject({
      code: 'CHECKPOINT_CORRUPT',
      details: { mismatch: 'archive_size' },
    });
    await blobs.put(checkpoint.blobKey, Buffer.concat([bytes, Buffer.alloc(10)]));
    await expect(keeper.restore(listingSandbox('/dev/null'), checkpoint)).rejects.toMatchObject({
      code: 'CHECKPOINT_CORRUPT',
      details: { mismatch: 'archive_size' },
    });
    await blobs.delete(checkpoint.blobKey);
    await expect(keeper.restore(listingSandbox('/dev/null'), checkpoint)).rejects.toMatchObject({
      code: 'CHECKPOINT_CORRUPT',
      details: { mismatch: 'archive_missing' },
    });
  });

  it('fails when the transcript lost entries or its entries up to the position changed, and not when it grew', async () => {
    const checkpoint = await take();
    await store.transcripts.append({ projectKey, sessionId: agentSessionId }, [{ type: 'user', uuid: 'u2', message: 'later' }]);
    const listFile = path.join(root, 'grown.txt');
    await keeper.restore(listingSandbox(listFile), checkpoint);
    expect(await readFile(listFile, 'utf8')).toContain('src/main.ts');
    const changed = {
      ...checkpoint,
      manifest: { ...checkpoint.manifest!, transcript: { ...checkpoint.manifest!.transcript, sha256: transcriptDigest([{ other: true }]) } },
    };
    await expect(keeper.restore(listingSandbox('/dev/null'), changed)).rejects.toMatchObject({
      code: 'CHECKPOINT_CORRUPT',
      details: { mismatch: 'transcript_sha256' },
    });
    await store.transcripts.delete({ projectKey, sessionId: agentSessionId });
    await expect(keeper.restore(listingSandbox('/dev/null'), checkpoint)).rejects.toMatchObject({
      code: 'CHECKPOINT_CORRUPT',
      details: { mismatch: 'transcript_entries' },
    });
  });

  it('restores a checkpoint recorded before manifests (workspace only) into the workspace, unverified', async () => {
    const legacyKey = 'sessions/s0/ckpt_legacy.tar.zst';
    await blobs.put(legacyKey, execFileSync('tar', ['--zstd', '--create', '--file=-', '--directory', workspace, '.']));
    const target = listingSandbox(path.join(root, 'legacy.txt'));
    await keeper.restore(target, {
      id: 'ckpt_legacy',
      sessionId: 's0',
      turn: 1,
      blobKey: legacyKey,
      sizeBytes: 1,
      agentSessionId: '',
      transcriptEntries: 0,
      manifest: null,
      createdAt: '',
    });
    expect(target.requests[0]!.args).toEqual(archiveExtractArgs(target, 1));
    expect(await readFile(path.join(root, 'legacy.txt'), 'utf8')).toContain('./src/main.ts');
  });
});

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
