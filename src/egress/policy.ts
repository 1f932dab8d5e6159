// The egress policy of one task or session: default deny; the hosts of `network.allowedHosts` and
// of the named presets are allowed in `enforce` mode; `learn` mode allows nothing new and records
// every host the agent tried, so a user can build the allowlist from a real run.
import { isIP } from 'node:net';
import { matchHostRule, parseHostRule, type HostRule } from './host-rules.js';
import { EGRESS_PRESETS, type EgressPresetName } from './presets.js';

export type EgressMode = 'enforce' | 'learn';

export interface NetworkSettings {
  allowedHosts?: readonly string[];
  presets?: readonly EgressPresetName[];
  mode?: EgressMode;
}

export type NameVerdict = { allowed: true; rule: string } | { allowed: false; reason: string };

export interface EgressPolicy {
  readonly mode: EgressMode;
  /** Whether a connection to `host:port` may go on to resolution (the address policy judges next). */
  checkName(host: string, port: number): NameVerdict;
}

/** Builds a policy; throws a RangeError naming the first bad rule or preset. */
export function createEgressPolicy(network: NetworkSettings = {}): EgressPolicy {
  const rules: HostRule[] = (network.allowedHosts ?? []).map(parseHostRule);
  for (const preset of network.presets ?? []) {
    const hosts = (EGRESS_PRESETS as Record<string, readonly string[] | undefined>)[preset];
    if (hosts === undefined) throw new RangeError(`unknown egress preset ${JSON.stringify(preset)}: use one of ${Object.keys(EGRESS_PRESETS).join(', ')}`);
    rules.push(...hosts.map((host) => ({ ...parseHostRule(host), source: `preset ${preset}: ${host}` })));
  }
  const mode = network.mode ?? 'enforce';
  return {
    mode,
    checkName(host, port) {
      if (mode === 'learn') return { allowed: false, reason: 'learn mode: recorded, not allowed' };
      const rule = matchHostRule(rules, host, port);
      if (rule !== undefined) return { allowed: true, rule: rule.source };
      const what = isIP(host.replace(/^\[|\]$/g, '')) !== 0 ? 'IP address' : 'host';
      return { allowed: false, reason: `${what} ${host}:${port} is not in the allowed hosts` };
    },
  };
}
