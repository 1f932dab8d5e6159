// Checkpoint manifests: what a checkpoint holds (its archive's size and sha256, its transcript
// position and a hash of the entries up to it), recorded when it is taken and verified before any
// restore unpacks a byte. A mismatch fails with CHECKPOINT_CORRUPT naming the checkpoint, so a
// corrupted blob or a transcript that changed under a checkpoint never becomes a silent partial
// restore. The blob store and the transcript store are Hangar's own (never sandbox-writable), and the
// hash read stops at the recorded size and at the time limit.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { HangarError } from '../errors/errors.js';
import type { BlobStore } from '../store/blobs/blob-store.js';
import type { CheckpointManifest, CheckpointRecord, TranscriptRepository } from '../store/store.js';
import { CURRENT_ARCHIVE_FORMAT } from './checkpoint-archive.js';

export type ManifestMismatch = 'archive_missing' | 'archive_size' | 'archive_sha256' | 'transcript_entries' | 'transcript_sha256' | 'timeout';

/** sha256 (hex) of transcript entries: each entry's JSON followed by a newline. */
export function transcriptDigest(entries: readonly unknown[]): string {
  const hash = createHash('sha256');
  for (const entry of entries) hash.update(`${JSON.stringify(entry)}\n`);
  return hash.digest('hex');
}

/** The first `entries` entries of a main transcript, and how many there really were. */
async function loadTranscript(transcripts: TranscriptRepository, projectKey: string | null, agentSessionId: string, entries: number): Promise<unknown[]> {
  if (entries === 0 || projectKey === null || agentSessionId === '') return [];
  return (await transcripts.load({ projectKey, sessionId: agentSessionId }, { limit: entries })) ?? [];
}

/** The manifest of a checkpoint whose archive was just stored, hashing its transcript up to the position now stored. */
export async function buildManifest(
  transcripts: TranscriptRepository,
  input: { archive: { sizeBytes: number; sha256: string }; projectKey: string | undefined; agentSessionId: string; homeExcludes: readonly string[] },
): Promise<CheckpointManifest> {
  const projectKey = input.projectKey ?? null;
  const stored = projectKey === null || input.agentSessionId === '' ? 0 : await transcripts.count({ projectKey, sessionId: input.agentSessionId });
  const entries = await loadTranscript(transcripts, projectKey, input.agentSessionId, stored);
  return {
    format: CURRENT_ARCHIVE_FORMAT,
    archive: { ...input.archive },
    transcript: { projectKey, agentSessionId: input.agentSessionId, entries: entries.length, sha256: transcriptDigest(entries) },
    homeExcludes: [...input.homeExcludes],
  };
}

function corrupt(checkpoint: CheckpointRecord, mismatch: ManifestMismatch, what: string): HangarError {
  return new HangarError(
    'CHECKPOINT_CORRUPT',
    `checkpoint ${checkpoint.id} of session ${checkpoint.sessionId} cannot be restored: ${what}; nothing was restored`,
    {
      details: { checkpointId: checkpoint.id, sessionId: checkpoint.sessionId, mismatch },
    },
  );
}

/** Size and sha256 of a stream, reading at most `maxBytes + 1` bytes within the time limit (undefined when late). */
async function hashStream(stream: Readable, maxBytes: number, timeoutMs: number): Promise<{ sizeBytes: number; sha256: string } | undefined> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  const read = (async () => {
    for await (const chunk of stream) {
      const bytes = chunk as Buffer;
      sizeBytes += bytes.length;
      if (sizeBytes > maxBytes) break;
      hash.update(bytes);
    }
    return { sizeBytes, sha256: hash.digest('hex') };
  })();
  try {
    return await Promise.race([read, late]);
  } finally {
    clearTimeout(timer);
    stream.destroy();
    read.catch(() => undefined);
  }
}

/**
 * Checks a checkpoint against its manifest: the blob's size and sha256, then the transcript's entry
 * count and hash at the recorded position. Fails with CHECKPOINT_CORRUPT (details: checkpointId,
 * sessionId, mismatch). A checkpoint without a manifest (recorded before manifests) passes.
 */
export async function verifyCheckpoint(
  checkpoint: CheckpointRecord,
  dependencies: { blobs: BlobStore; transcripts: TranscriptRepository; timeoutMs: number },
): Promise<void> {
  const manifest = checkpoint.manifest;
  if (manifest === null) return;
  if (!(await dependencies.blobs.exists(checkpoint.blobKey))) throw corrupt(checkpoint, 'archive_missing', `its archive ${checkpoint.blobKey} is missing`);
  const read = await hashStream(await dependencies.blobs.get(checkpoint.blobKey), manifest.archive.sizeBytes, dependencies.timeoutMs);
  if (read === undefined) throw corrupt(checkpoint, 'timeout', `reading its archive took longer than ${dependencies.timeoutMs} ms`);
  if (read.sizeBytes !== manifest.archive.sizeBytes) {
    throw corrupt(
      checkpoint,
      'archive_size',
      `its archive holds ${read.sizeBytes > manifest.archive.sizeBytes ? 'more than ' : ''}${read.sizeBytes} bytes, the manifest says ${manifest.archive.sizeBytes}`,
    );
  }
  if (read.sha256 !== manifest.archive.sha256)
    throw corrupt(checkpoint, 'archive_sha256', `its archive's sha256 ${read.sha256} differs from the manifest's ${manifest.archive.sha256}`);
  const { projectKey, agentSessionId, entries, sha256 } = manifest.transcript;
  const loaded = await loadTranscript(dependencies.transcripts, projectKey, agentSessionId, entries);
  if (loaded.length !== entries)
    throw corrupt(checkpoint, 'transcript_entries', `its transcript ${agentSessionId} holds ${loaded.length} entries, the manifest says ${entries}`);
  if (transcriptDigest(loaded) !== sha256)
    throw corrupt(checkpoint, 'transcript_sha256', `the first ${entries} entries of its transcript ${agentSessionId} differ from those it was taken with`);
}
