// The Host header check against DNS rebinding (pure parts).
import { describe, expect, it } from 'vitest';
import { allowedHostNames, DEFAULT_LOOPBACK_HOST_NAMES, isAllowedHost, isLoopbackHost, parseHostHeader } from '../../src/api/host-check.js';

describe('API host check', () => {
  it('knows loopback bind addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1']) expect(isLoopbackHost(host), host).toBe(false);
  });

  it('checks a loopback bind, or any bind given explicit names', () => {
    expect(allowedHostNames('127.0.0.1', undefined)).toEqual(DEFAULT_LOOPBACK_HOST_NAMES);
    expect(allowedHostNames('0.0.0.0', undefined)).toBeUndefined();
    expect(allowedHostNames('0.0.0.0', ['hangar.example'])).toEqual(['hangar.example']);
  });

  it('parses Host headers', () => {
    expect(parseHostHeader('LocalHost:8080')).toEqual({ name: 'localhost', port: 8080 });
    expect(parseHostHeader('[::1]:9')).toEqual({ name: '[::1]', port: 9 });
    expect(parseHostHeader('example.com.')).toEqual({ name: 'example.com', port: undefined });
    for (const bad of ['', 'a b', 'user@host', 'host:port', '::1', 'host/x', 'host:123456']) expect(parseHostHeader(bad), bad).toBeUndefined();
  });

  it('matches names at the listening port, exact entries with a port, and skips the port when not listening', () => {
    const names = DEFAULT_LOOPBACK_HOST_NAMES;
    expect(isAllowedHost('127.0.0.1:8080', names, 8080)).toBe(true);
    expect(isAllowedHost('[::1]:8080', names, 8080)).toBe(true);
    expect(isAllowedHost('127.0.0.1:8081', names, 8080)).toBe(false);
    expect(isAllowedHost('127.0.0.1', names, 8080)).toBe(false);
    expect(isAllowedHost('127.0.0.1', names, 80)).toBe(true);
    expect(isAllowedHost('attacker.example:8080', names, 8080)).toBe(false);
    expect(isAllowedHost(undefined, names, 8080)).toBe(false);
    expect(isAllowedHost('localhost:80', names, undefined)).toBe(true);
    expect(isAllowedHost('proxy.example:443', ['proxy.example:443'], 8080)).toBe(true);
    expect(isAllowedHost('proxy.example:8080', ['proxy.example:443'], 8080)).toBe(false);
  });
});
