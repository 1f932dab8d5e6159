// Secrets that never enter a sandbox. Each is declared with the hosts it is for; the sandbox gets
// only a placeholder (in the environment variable of the secret's name), and the proxy, which
// terminates TLS for those hosts only, puts the real value into the request headers on the way
// out: in place of the placeholder (`inject: "placeholder"`), or as a header of its own
// (`inject: { header, template }`, the template's `{value}` replaced). A placeholder in a request
// to any other host, or in plain HTTP, is refused. Pure: no I/O.
import { randomBytes } from 'node:crypto';
import { matchHostRule, parseHostRule, type HostRule } from './host-rules.js';

export type SecretInjection = 'placeholder' | { header: string; template?: string };

export interface EgressSecret {
  /** The environment variable the sandbox sees the placeholder in (`GITHUB_TOKEN`). */
  name: string;
  value: string;
  /** Host rules (as `network.allowedHosts` takes them) of the hosts the value may be sent to. */
  hosts: readonly string[];
  inject?: SecretInjection;
}

interface PreparedSecret {
  name: string;
  value: string;
  rules: HostRule[];
  inject: SecretInjection;
  placeholder: string;
}

export type HeaderRewrite = { ok: true; headers: Record<string, string | string[]>; injected: string[] } | { ok: false; reason: string };

export interface SecretSet {
  /** The environment a sandbox gets: each secret's name -> its placeholder. */
  readonly environment: Record<string, string>;
  /** True when a secret is declared for `host:port`: the proxy intercepts its TLS. */
  intercepts(host: string, port: number): boolean;
  /** The headers of a request to `host:port` with the secrets for it put in, or why it is refused. */
  rewrite(host: string, port: number, headers: Record<string, string | string[]>): HeaderRewrite;
  /** The names of the secrets whose placeholders appear in `text`. */
  placeholdersIn(text: string): string[];
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Variables a secret may not take over: what the agent, its shell and the proxy setup rely on. */
const RESERVED_NAMES =
  /^(PATH|HOME|USER|LOGNAME|SHELL|PWD|TMPDIR|LANG|TERM|LD_[A-Z_]*|NODE_[A-Z_]*|ANTHROPIC_[A-Z_]*|CLAUDE_[A-Z_]*|HANGAR_[A-Z_]*|(HTTPS?|NO|ALL)_PROXY|(https?|no|all)_proxy|npm_config_[a-z_]*|SSL_CERT_[A-Z_]*|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|GIT_SSL_CAINFO|PIP_CERT)$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
/** Headers that frame or route the request (or the proxy hop): a secret may not set them. */
const RESERVED_HEADERS = /^(host|content-length|transfer-encoding|connection|keep-alive|upgrade|te|trailer|proxy-[a-z-]*)$/i;
/** What a header value may hold (Node's own rule): tab, space, visible ASCII and Latin-1; one line. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]+$/;

/** Why `name` cannot name a secret, or undefined when it can. */
export function secretNameProblem(name: string): string | undefined {
  if (!ENV_NAME.test(name)) return `secret name ${JSON.stringify(name)} must be an environment variable name`;
  if (RESERVED_NAMES.test(name)) return `secret name ${name} is reserved: Hangar or the agent sets that variable`;
  return undefined;
}

/** Why `value` cannot be a secret's value (it goes into a header), or undefined; never quotes the value. */
export function secretValueProblem(value: string): string | undefined {
  return HEADER_VALUE.test(value)
    ? undefined
    : 'the value must be non-empty, on one line, of characters a header may carry (tab, space, visible ASCII, Latin-1)';
}

/** Why a secret cannot be injected this way, or undefined when it can. */
export function secretInjectionProblem(inject: SecretInjection): string | undefined {
  if (inject === 'placeholder') return undefined;
  if (!HEADER_NAME.test(inject.header)) return `${JSON.stringify(inject.header)} is not a header name`;
  if (RESERVED_HEADERS.test(inject.header)) return `header ${inject.header} frames or routes the request: a secret cannot set it`;
  if (inject.template !== undefined && !HEADER_VALUE.test(inject.template)) return 'the template must be one line of characters a header may carry';
  return undefined;
}

/** Prepares secrets for one sandbox; throws a RangeError naming the first bad declaration. */
export function createSecretSet(
  secrets: readonly EgressSecret[],
  placeholderOf: (name: string) => string = (name) => `hangar-secret-${name}-${randomBytes(12).toString('hex')}`,
): SecretSet {
  const prepared: PreparedSecret[] = secrets.map((secret) => {
    const nameProblem = secretNameProblem(secret.name);
    if (nameProblem !== undefined) throw new RangeError(nameProblem);
    const valueProblem = secretValueProblem(secret.value);
    if (valueProblem !== undefined) throw new RangeError(`secret ${secret.name}: ${valueProblem}`);
    if (secret.hosts.length === 0) throw new RangeError(`secret ${secret.name}: name at least one host it may be sent to`);
    const inject = secret.inject ?? 'placeholder';
    const injectProblem = secretInjectionProblem(inject);
    if (injectProblem !== undefined) throw new RangeError(`secret ${secret.name}: ${injectProblem}`);
    return { name: secret.name, value: secret.value, rules: secret.hosts.map(parseHostRule), inject, placeholder: placeholderOf(secret.name) };
  });
  const names = new Set<string>();
  for (const secret of prepared) {
    if (names.has(secret.name)) throw new RangeError(`secret ${secret.name} is declared twice`);
    names.add(secret.name);
  }
  const forHost = (host: string, port: number): PreparedSecret[] => prepared.filter((secret) => matchHostRule(secret.rules, host, port) !== undefined);
  const placeholdersIn = (text: string): string[] => prepared.filter((secret) => text.includes(secret.placeholder)).map((secret) => secret.name);
  return {
    environment: Object.fromEntries(prepared.map((secret) => [secret.name, secret.placeholder])),
    intercepts: (host, port) => forHost(host, port).length > 0,
    placeholdersIn,
    rewrite(host, port, headers) {
      const allowed = forHost(host, port);
      const allowedNames = new Set(allowed.map((secret) => secret.name));
      const out: Record<string, string | string[]> = {};
      const injected = new Set<string>();
      for (const [key, value] of Object.entries(headers)) {
        const values = Array.isArray(value) ? value : [value];
        const stray = values.flatMap(placeholdersIn).filter((name) => !allowedNames.has(name));
        if (stray.length > 0) return { ok: false, reason: `the placeholder of secret ${stray[0]} was sent to ${host}:${port}, which it is not declared for` };
        const replaced = values.map((text) =>
          allowed.reduce((result, secret) => {
            if (!result.includes(secret.placeholder)) return result;
            injected.add(secret.name);
            return result.split(secret.placeholder).join(secret.value);
          }, text),
        );
        out[key] = Array.isArray(value) ? replaced : replaced[0]!;
      }
      for (const secret of allowed) {
        if (secret.inject === 'placeholder') continue;
        out[secret.inject.header.toLowerCase()] = (secret.inject.template ?? '{value}').split('{value}').join(secret.value);
        injected.add(secret.name);
      }
      return { ok: true, headers: out, injected: [...injected] };
    },
  };
}
