// Startup check of the model upstream: with Anthropic's API as the upstream and no key, every task
// would wait minutes for retries and fail, so `serve` and `run` refuse to start and say what to do.
import { DEFAULT_UPSTREAM_URL, type HangarConfig } from '../config/config.js';
import { HangarError } from '../errors/errors.js';

function isDefaultUpstream(url: string): boolean {
  return url.replace(/\/+$/, '') === DEFAULT_UPSTREAM_URL;
}

/** Throws CONFIG_INVALID with a hint when the configured upstream needs a key and none is set. */
export function assertModelUpstream(config: HangarConfig, demoCommand: string): void {
  if (config.gateway.upstreamApiKey !== undefined || config.gateway.upstreamApiKeyFile !== undefined || !isDefaultUpstream(config.gateway.upstreamUrl)) return;
  throw new HangarError(
    'CONFIG_INVALID',
    `no model API key: Hangar forwards model calls to ${DEFAULT_UPSTREAM_URL}, which needs one. ` +
      'Set ANTHROPIC_API_KEY or ANTHROPIC_API_KEY_FILE (or gateway.upstreamApiKey / upstreamApiKeyFile in the config file), or set ANTHROPIC_BASE_URL to an Anthropic-compatible server; ' +
      `to try Hangar without a key, run \`${demoCommand}\` (a scripted demo model: a real sandbox and agent, every answer marked [demo])`,
  );
}
