// What a realistic HOME costs a checkpoint: a sandbox whose ~/.npm/_cacache holds what `npm cache add`
// of a few dozen packages leaves (300 content blobs with the size distribution of a real cache,
// compressed tarballs, so incompressible; and 300 index entries of ~1 KB of JSON), snapshotted with
// the cache archived and with it excluded (the default), and restored into a new sandbox.
import { performance } from 'node:perf_hooks';
import { createLocalSandboxProvider } from '../src/sandbox/providers/local/index.js';
import { restoreSandboxState, snapshotLimits, snapshotSandboxState } from '../src/sessions/workspace-snapshots.js';
import { createLocalBlobStore } from '../src/store/blobs/local.js';

/**
 * Sizes (bytes) of the content files, the deciles of a real ~/.npm/_cacache/content-v2 (649 files
 * under 4 MiB, from `npm ci` of a TypeScript project); the cache repeats them.
 */
const CONTENT_SIZES = [2226, 3806, 5280, 7465, 10829, 16124, 29535, 50086, 112114, 443973];
export const NPM_CACHE_FILES = 300;

/** A shell script (bash, run in the sandbox as the agent) that fills ~/.npm/_cacache as npm lays it out. */
export const NPM_CACHE_SCRIPT = String.raw`set -e
c="$HOME/.npm/_cacache"
sizes=(${CONTENT_SIZES.join(' ')})
hex() { printf '%04x%04x%04x%04x%04x%04x%04x%04x' $RANDOM $RANDOM $RANDOM $RANDOM $RANDOM $RANDOM $RANDOM $RANDOM; }
for i in $(seq 1 ${NPM_CACHE_FILES}); do
  h="$(hex)$(hex)$(hex)$(hex)"
  size=${'$'}{sizes[$(( (i - 1) % ${CONTENT_SIZES.length} ))]}
  d="$c/content-v2/sha512/${'$'}{h:0:2}/${'$'}{h:2:2}"
  mkdir -p "$d"
  head -c "$size" /dev/urandom > "$d/${'$'}{h:4}"
  k="$(hex)$(hex)"
  x="$c/index-v5/${'$'}{k:0:2}/${'$'}{k:2:2}"
  mkdir -p "$x"
  printf '%s\t{"key":"make-fetch-happen:request-cache:https://registry.npmjs.org/pkg-%d/-/pkg-%d-1.0.%d.tgz","integrity":"sha512-%s==","time":1796140000000,"size":%d,"metadata":{"url":"https://registry.npmjs.org/pkg-%d/-/pkg-%d-1.0.%d.tgz","reqHeaders":{},"resHeaders":{"cache-control":"public, must-revalidate, max-age=31557600","content-type":"application/octet-stream","date":"Tue, 01 Dec 2026 10:00:00 GMT","etag":"\"%s\"","last-modified":"Mon, 30 Nov 2026 10:00:00 GMT"},"options":{"compress":true}}}\n' \
    "$k" "$i" "$i" "$i" "$h" "$size" "$i" "$i" "$i" "${'$'}{h:0:32}" > "$x/${'$'}{k:4}"
done
du -sb "$c" | cut -f1`;

export interface HomeCacheBenchResult {
  cacheFiles: number;
  cacheBytes: number;
  /** Snapshot (tar + zstd in the sandbox, stored, verified on the host) with the cache archived. */
  withCache: { snapshotMs: number[]; restoreMs: number[]; archiveBytes: number };
  /** The same HOME with ~/.npm/_cacache excluded (the default). */
  excluded: { snapshotMs: number[]; restoreMs: number[]; archiveBytes: number };
}

const resources = { memoryMb: 1024, cpus: 1, diskMb: 256, pids: 256 };

export async function benchHomeCache(root: string, runs: number): Promise<HomeCacheBenchResult> {
  const provider = createLocalSandboxProvider({ rootDir: `${root}/sandboxes`, uidRangeStart: 303000, uidRangeSize: 100, warmPoolSize: 0 });
  const blobs = createLocalBlobStore({ directory: `${root}/blobs` });
  const limits = snapshotLimits({ snapshotTimeoutMs: 120_000 }, resources.diskMb);
  try {
    const source = await provider.create({ resources, bridges: [] });
    const filled = await source.exec('bash', ['-c', NPM_CACHE_SCRIPT], { env: { HOME: source.homePath }, timeoutMs: 120_000 });
    if (filled.exitCode !== 0) throw new Error(`filling the npm cache failed: ${filled.stderr}`);
    await source.writeFile('src/index.ts', 'export const answer = 42;\n');
    const cacheBytes = Number(filled.stdout.trim());
    const measure = async (homeExcludes: string[], key: string): Promise<{ snapshotMs: number[]; restoreMs: number[]; archiveBytes: number }> => {
      const snapshotMs: number[] = [];
      const restoreMs: number[] = [];
      let archiveBytes = 0;
      for (let run = 0; run < runs; run += 1) {
        const started = performance.now();
        archiveBytes = (await snapshotSandboxState(source, blobs, key, limits, { homeExcludes })).sizeBytes;
        snapshotMs.push(performance.now() - started);
        const target = await provider.create({ resources, bridges: [] });
        const restoreStarted = performance.now();
        await restoreSandboxState(target, blobs, key, 2, 120_000);
        restoreMs.push(performance.now() - restoreStarted);
        await target.destroy();
      }
      return { snapshotMs, restoreMs, archiveBytes };
    };
    const withCache = await measure(['.cache'], 'bench/with-cache.tar.zst');
    const excluded = await measure(['.cache', '.npm/_cacache'], 'bench/excluded.tar.zst');
    await source.destroy();
    return { cacheFiles: 2 * NPM_CACHE_FILES, cacheBytes, withCache, excluded };
  } finally {
    await provider.close();
  }
}
