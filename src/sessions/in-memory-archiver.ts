// A SandboxStateArchiver for in-memory sandboxes (sandbox/providers/in-memory.ts), for unit tests of
// the session logic: the workspace's files map is stored as one JSON blob and written back on restore.
// The stored size and sha256 are those of the blob, so checkpoint manifests verify as with tar.
import { createHash } from 'node:crypto';
import { HangarError } from '../errors/errors.js';
import type { Sandbox } from '../sandbox/sandbox-provider.js';
import type { SandboxStateArchiver } from './workspace-snapshots.js';

function filesOf(sandbox: Sandbox): Map<string, Buffer> {
  const files = (sandbox as Sandbox & { files?: unknown }).files;
  if (!(files instanceof Map)) throw new HangarError('SANDBOX_FAILED', `sandbox ${sandbox.id} is not an in-memory sandbox`);
  return files as Map<string, Buffer>;
}

export const inMemoryArchiver: SandboxStateArchiver = {
  async snapshot(sandbox, blobs, key, limits) {
    const entries = [...filesOf(sandbox)].map(([file, content]) => [file, content.toString('base64')]);
    const archive = Buffer.from(JSON.stringify(entries));
    if (archive.length > limits.maxBytes) {
      throw new HangarError('CHECKPOINT_FAILED', `the snapshot is larger than its limit of ${limits.maxBytes} bytes`, { details: { reason: 'too_large' } });
    }
    const { sizeBytes } = await blobs.put(key, archive);
    return { sizeBytes, sha256: createHash('sha256').update(archive).digest('hex') };
  },
  async restore(sandbox, blobs, key) {
    const chunks: Buffer[] = [];
    for await (const chunk of await blobs.get(key)) chunks.push(chunk as Buffer);
    const entries = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Array<[string, string]>;
    for (const [file, content] of entries) await sandbox.writeFile(file, Buffer.from(content, 'base64'));
  },
};
