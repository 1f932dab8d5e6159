// Admission: the ceiling of live sandboxes, its default derived from the host, and the provider
// guard that holds a slot from create() until destroy().
import { describe, expect, it } from 'vitest';
import { HangarError } from '../../src/errors/errors.js';
import { createInMemorySandboxProvider } from '../../src/sandbox/providers/in-memory.js';
import { createAdmission, defaultMaxLive, RETRY_AFTER_SEC } from '../../src/sessions/admission.js';

const GIB = 1024 * 1024 * 1024;
const spec = { resources: { memoryMb: 256, cpus: 1, diskMb: 64, pids: 128 }, bridges: [] };

describe('admission', () => {
  it('derives the default ceiling from host memory, pid_max and the uid range', () => {
    // 24 GiB / 512 MiB = 48; 32768 / 2 / 512 = 32; uid range 10000: pids decide.
    expect(defaultMaxLive({ totalMemoryBytes: 24 * GIB, pidMax: 32_768 }, { uidRangeSize: 10_000, defaultPids: 512 })).toBe(32);
    expect(defaultMaxLive({ totalMemoryBytes: 4 * GIB, pidMax: 4_194_304 }, { uidRangeSize: 10_000, defaultPids: 512 })).toBe(8);
    expect(defaultMaxLive({ totalMemoryBytes: 64 * GIB, pidMax: 4_194_304 }, { uidRangeSize: 20, defaultPids: 512 })).toBe(20);
    expect(defaultMaxLive({ totalMemoryBytes: 256 * 1024 * 1024, pidMax: 100 }, { uidRangeSize: 20, defaultPids: 512 })).toBe(1);
    // sandbox.hostLimits.pids set: the ceiling holds 150 / 64 = 2 sandboxes of the default shape.
    expect(defaultMaxLive({ totalMemoryBytes: 64 * GIB, pidMax: 4_194_304 }, { uidRangeSize: 20, defaultPids: 64, hostPidsCeiling: 150 })).toBe(2);
  });

  it('hands out slots up to the ceiling, then fails with CAPACITY_EXCEEDED, 429 and Retry-After', () => {
    const admission = createAdmission({ maxLive: 2 });
    const first = admission.acquire('task one');
    admission.acquire('task two');
    expect(admission.live).toBe(2);
    let caught: unknown;
    try {
      admission.acquire('task three');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(HangarError);
    const error = caught as HangarError;
    expect(error.code).toBe('CAPACITY_EXCEEDED');
    expect(error.httpStatus).toBe(429);
    expect(error.retryAfterSec).toBe(RETRY_AFTER_SEC);
    expect(error.toBody()).toEqual({
      error: { code: 'CAPACITY_EXCEEDED', message: expect.stringContaining('sandbox.maxLive'), details: { live: 2, maxLive: 2 } },
    });
    expect(() => admission.assertRoom('a check')).toThrow(HangarError);
    first.release();
    first.release();
    expect(admission.live).toBe(1);
    expect(() => admission.assertRoom('a check')).not.toThrow();
  });

  it('counts a guarded provider’s sandboxes until they are destroyed, and not a create that failed', async () => {
    const admission = createAdmission({ maxLive: 1 });
    const inner = createInMemorySandboxProvider();
    const provider = admission.guardProvider(inner);
    const sandbox = await provider.create(spec);
    expect(admission.live).toBe(1);
    await sandbox.writeFile('a.txt', 'kept');
    expect((await sandbox.readFile('a.txt')).toString()).toBe('kept');
    await expect(provider.create(spec)).rejects.toMatchObject({ code: 'CAPACITY_EXCEEDED' });
    await sandbox.destroy();
    await sandbox.destroy();
    expect(admission.live).toBe(0);
    const failing = admission.guardProvider({ ...inner, create: async () => Promise.reject(new Error('no sandbox')) });
    await expect(failing.create(spec)).rejects.toThrow('no sandbox');
    expect(admission.live).toBe(0);
    await inner.close();
  });

  it("counts each tenant's slots against its own ceiling, inside the host's, and frees them with the sandbox", async () => {
    const admission = createAdmission({ maxLive: 3 });
    const acme = { tenantId: 'acme', maxLive: 1 };
    const first = admission.acquire('task one', acme);
    expect(() => admission.acquire('task two', acme)).toThrow(
      expect.objectContaining({ code: 'CAPACITY_EXCEEDED', details: expect.objectContaining({ limit: 'maxConcurrentSandboxes', tenantId: 'acme' }) }),
    );
    expect(() => admission.assertRoom('a session', acme)).toThrow(expect.objectContaining({ code: 'CAPACITY_EXCEEDED' }));
    // Another tenant, and slots counted without a ceiling (a sandbox restored after a restart), still fit the host.
    admission.acquire('zeta task', { tenantId: 'zeta', maxLive: 5 });
    admission.acquire('restored', { tenantId: 'acme' });
    expect(admission.liveOf('acme')).toBe(2);
    expect(() => admission.acquire('zeta again', { tenantId: 'zeta', maxLive: 5 })).toThrow(expect.objectContaining({ details: { live: 3, maxLive: 3 } }));
    first.release();
    first.release();
    expect(admission.liveOf('acme')).toBe(1);
    // Through the guarded provider: the slot is the tenant's until the sandbox is destroyed.
    const provider = admission.guardProvider(createInMemorySandboxProvider());
    const sandbox = await provider.create(spec, { tenantId: 'solo', maxLive: 1 });
    await expect(provider.create(spec, { tenantId: 'solo', maxLive: 1 })).rejects.toMatchObject({ code: 'CAPACITY_EXCEEDED' });
    await sandbox.destroy();
    expect(admission.liveOf('solo')).toBe(0);
  });
});
