// `hangar serve`'s startup: refuse a configuration that cannot reach a model, start Hangar (the
// data directory's lock and the port first), listen, and report whether sandboxes can run here.
// Any failure closes what was started and rejects, so the process exits non-zero.
import type { Logger } from 'pino';
import { createHangar, type Hangar } from '../app.js';
import type { HangarConfig } from '../config/config.js';
import { assertModelUpstream } from './model-upstream.js';

export interface StartedServer {
  hangar: Hangar;
  url: string;
}

export async function startServer(config: HangarConfig, options: { logger: Logger; demo: boolean }): Promise<StartedServer> {
  if (!options.demo) assertModelUpstream(config, 'hangar serve --demo');
  const hangar = await createHangar(config, { logger: options.logger, owner: 'hangar serve', demo: options.demo, reservePort: true });
  try {
    const url = await hangar.listen();
    // SIGHUP re-reads the upstream API key file (a rotated key, without a restart); the
    // listener lives as long as the process, which `hangar serve` is.
    process.on('SIGHUP', () => {
      hangar.gateway.reloadUpstreamKey().catch((error: unknown) => options.logger.warn({ err: error }, 'cannot reload the upstream API key'));
    });
    return { hangar, url };
  } catch (error) {
    await hangar.close();
    throw error;
  }
}

/** Why sandboxes cannot run on this host (what /readyz answers), or undefined when they can. */
export async function sandboxHostProblem(hangar: Hangar): Promise<string | undefined> {
  try {
    await hangar.sandboxProvider.checkHost?.();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
