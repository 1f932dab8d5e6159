import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { assertModelUpstream } from '../../src/runtime/model-upstream.js';

describe('configuration', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-config-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('fills every default when nothing is given', () => {
    const config = loadConfig({ env: {} });
    expect(config.server.port).toBe(8080);
    expect(config.agent.defaultMaxTurns).toBe(20);
    expect(config.gateway.upstreamUrl).toBe('https://api.anthropic.com');
    expect(config.sandbox.defaults.memoryMb).toBe(1024);
  });

  it('layers file, then environment, then flags', () => {
    const file = path.join(directory, 'hangar.config.json');
    writeFileSync(file, JSON.stringify({ server: { port: 7000, host: '0.0.0.0' }, agent: { defaultMaxTurns: 5 } }));
    const config = loadConfig({
      file,
      env: { HANGAR_PORT: '7100', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9999', ANTHROPIC_API_KEY: 'sk-x' },
      overrides: { server: { port: 7200 } },
    });
    expect(config.server.port).toBe(7200);
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.agent.defaultMaxTurns).toBe(5);
    expect(config.gateway.upstreamUrl).toBe('http://127.0.0.1:9999');
    expect(config.gateway.upstreamApiKey).toBe('sk-x');
  });

  it('rejects unknown fields and bad values with the field named', () => {
    expect(() => loadConfig({ env: {}, overrides: { server: { prot: 1 } } })).toThrow(/server/);
    expect(() => loadConfig({ env: { HANGAR_PORT: 'eighty' } })).toThrow(/HANGAR_PORT must be a number/);
    expect(() => loadConfig({ env: {}, overrides: { agent: { defaultMaxTurns: 0 } } })).toThrow(/agent.defaultMaxTurns/);
  });

  it('refuses a model URL without a scheme, naming the variable, flag or file that set it', () => {
    expect(() => loadConfig({ env: { ANTHROPIC_BASE_URL: 'localhost:18787' } })).toThrow(
      /gateway\.upstreamUrl \(set by ANTHROPIC_BASE_URL="localhost:18787"\): must be an http:\/\/ or https:\/\/ URL/,
    );
    expect(() => loadConfig({ env: {}, overrides: { gateway: { upstreamUrl: 'ftp://models' } } })).toThrow(
      /gateway\.upstreamUrl \(set by a command-line flag\)/,
    );
    const file = path.join(directory, 'no-scheme.json');
    writeFileSync(file, JSON.stringify({ gateway: { upstreamUrl: '127.0.0.1:8787' } }));
    expect(() => loadConfig({ file, env: {} })).toThrow(/set by config file .*no-scheme\.json/);
    expect(() => loadConfig({ env: { HANGAR_MAX_TURNS: '0' } })).toThrow(/agent\.defaultMaxTurns \(set by HANGAR_MAX_TURNS="0"\)/);
    expect(loadConfig({ env: { ANTHROPIC_BASE_URL: 'http://localhost:18787' } }).gateway.upstreamUrl).toBe('http://localhost:18787');
  });

  it('refuses to start without a key for the default upstream, with a hint; other upstreams need none', () => {
    const keyless = loadConfig({ env: {} });
    expect(() => assertModelUpstream(keyless, 'hangar serve --demo')).toThrow(/no model API key.*ANTHROPIC_API_KEY.*hangar serve --demo/);
    expect(() => assertModelUpstream(loadConfig({ env: { ANTHROPIC_API_KEY: 'sk-x' } }), 'x')).not.toThrow();
    expect(() => assertModelUpstream(loadConfig({ env: { ANTHROPIC_BASE_URL: 'http://127.0.0.1:8787' } }), 'x')).not.toThrow();
  });

  it('names the file when it is not valid JSON', () => {
    const file = path.join(directory, 'broken.json');
    writeFileSync(file, '{ nope');
    expect(() => loadConfig({ file, env: {} })).toThrow(/broken.json/);
  });
});
