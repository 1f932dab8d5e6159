// The local provider's settings: one schema, one set of defaults, which the service configuration
// shares (pure, without root).
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../src/config/config.js';
import { HangarError } from '../../../../src/errors/errors.js';
import { LOCAL_SANDBOX_DEFAULTS, resolveLocalSandboxSettings, type LocalSandboxSettings } from '../../../../src/sandbox/providers/local/settings.js';

function problemOf(settings: LocalSandboxSettings): string | undefined {
  try {
    resolveLocalSandboxSettings(settings);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(HangarError);
    expect((error as HangarError).code).toBe('CONFIG_INVALID');
    return (error as Error).message;
  }
}

describe('local sandbox settings', () => {
  it('applies the defaults and resolves rootDir', () => {
    const resolved = resolveLocalSandboxSettings({ rootDir: 'relative/sandboxes' });
    expect(resolved).toMatchObject({ ...LOCAL_SANDBOX_DEFAULTS, rootDir: `${process.cwd()}/relative/sandboxes` });
    expect(resolved.scratchMb).toBeUndefined();
  });

  it('keeps no image pairs for tmpfs workspaces', () => {
    expect(resolveLocalSandboxSettings({ rootDir: '/r', workspaceBacking: 'tmpfs', ext4PoolSize: 5 }).ext4PoolSize).toBe(0);
    expect(resolveLocalSandboxSettings({ rootDir: '/r', ext4PoolSize: 5 }).ext4PoolSize).toBe(5);
  });

  it('gives the service configuration the same sandbox defaults as the provider', () => {
    const { sandbox } = parseConfig({});
    expect(sandbox.warmPoolSize).toBe(LOCAL_SANDBOX_DEFAULTS.warmPoolSize);
    expect(sandbox.uidRangeStart).toBe(LOCAL_SANDBOX_DEFAULTS.uidRangeStart);
    expect(sandbox.uidRangeSize).toBe(LOCAL_SANDBOX_DEFAULTS.uidRangeSize);
    expect(sandbox.workspaceBacking).toBe(LOCAL_SANDBOX_DEFAULTS.workspaceBacking);
    expect(sandbox.favorDynamicCgroups).toBe(LOCAL_SANDBOX_DEFAULTS.favorDynamicCgroups);
    expect(parseConfig({ sandbox: { provider: 'local' } }).sandbox.warmPoolSize).toBe(LOCAL_SANDBOX_DEFAULTS.warmPoolSize);
  });

  it('refuses invalid settings as CONFIG_INVALID, naming the setting', () => {
    expect(problemOf({ rootDir: '' })).toMatch(/rootDir/);
    expect(problemOf({ rootDir: '/r', uidRangeStart: 999 })).toMatch(/uidRangeStart/);
    expect(problemOf({ rootDir: '/r', uidRangeSize: 0 })).toMatch(/uidRangeSize/);
    expect(problemOf({ rootDir: '/r', uidRangeStart: 2 ** 31 - 10, uidRangeSize: 11 })).toMatch(/uidRangeSize: the uid range must end at or below 2\^31/);
    expect(problemOf({ rootDir: '/r', workspaceBacking: 'zfs' as never })).toMatch(/workspaceBacking/);
    expect(problemOf({ rootDir: '/r', warmPoolSize: 65 })).toMatch(/warmPoolSize/);
    expect(problemOf({ rootDir: '/r', warmPoolSize: 1.5 })).toMatch(/warmPoolSize/);
    expect(problemOf({ rootDir: '/r', ext4PoolSize: -1 })).toMatch(/ext4PoolSize/);
    expect(problemOf({ rootDir: '/r', scratchMb: 0 })).toMatch(/scratchMb/);
    expect(problemOf({ rootDir: '/r', scratchMb: Number.POSITIVE_INFINITY })).toMatch(/scratchMb/);
    expect(problemOf({ rootDir: '/r', unknownSetting: 1 } as never)).toMatch(/unknownSetting/);
  });
});
