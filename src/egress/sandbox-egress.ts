// What tasks and sessions use of the egress proxy: register an owner (a task or session id) with
// its network settings before its agent starts, and get the environment its CLI needs (the
// proxy's address with the owner's credentials, CA variables, secret placeholders); revoke it when
// the agent stops. Secret values are read here, from the configured variable or file, at each
// registration, so a rotated file takes effect with the next run.
import { readFile } from 'node:fs/promises';
import type { HangarConfig } from '../config/config.js';
import { HangarError } from '../errors/errors.js';
import { SANDBOX_CA_BUNDLE_PATH, SANDBOX_CA_CERT_PATH, type CaFiles } from './ca-bundle.js';
import type { EgressProxy } from './egress-proxy.js';
import type { NetworkSettings } from './policy.js';
import { egressEnvironment } from './sandbox-environment.js';
import type { EgressSecret } from './secrets.js';

/** Most bytes of a secret file. */
const MAX_SECRET_BYTES = 64 * 1024;

export interface SandboxNetwork extends NetworkSettings {
  /** Names of configured secrets (egress.secrets). */
  secrets?: readonly string[];
}

export interface SandboxEgress {
  /** Files every sandbox gets read-only (the CA files). */
  readonly readOnlyFiles: ReadonlyArray<{ path: string; content: string }>;
  /** The egress proxy's socket, bridged into every sandbox. */
  readonly socketPath: string;
  /** Registers an owner and returns its CLI's environment for the proxy. */
  environmentFor(ownerId: string, network: SandboxNetwork | undefined): Promise<Record<string, string>>;
  /** Ends the owner's access and writes its last records to the egress log. */
  revoke(ownerId: string): Promise<void>;
}

export function createSandboxEgress(settings: {
  proxy: EgressProxy;
  config: Pick<HangarConfig, 'egress'>;
  caFiles: CaFiles;
  /** Writes the records waiting (audit-writer.ts). */
  flushRecords: () => Promise<void>;
}): SandboxEgress {
  const { proxy, config } = settings;

  const secretValue = async (name: string): Promise<string> => {
    const declared = config.egress.secrets[name];
    if (declared === undefined) throw new HangarError('VALIDATION_FAILED', `unknown secret ${name}: configure it under egress.secrets`);
    if (declared.env !== undefined) {
      const value = process.env[declared.env];
      if (value === undefined || value === '') throw new HangarError('CONFIG_INVALID', `secret ${name}: environment variable ${declared.env} is not set`);
      return value;
    }
    const text = await readFile(declared.file!, 'utf8').catch((error: unknown) => {
      throw new HangarError('CONFIG_INVALID', `secret ${name}: cannot read ${declared.file}: ${(error as Error).message}`);
    });
    if (Buffer.byteLength(text) > MAX_SECRET_BYTES)
      throw new HangarError('CONFIG_INVALID', `secret ${name}: ${declared.file} is over ${MAX_SECRET_BYTES} bytes`);
    return text.trim();
  };

  return {
    readOnlyFiles: [
      { path: SANDBOX_CA_CERT_PATH, content: settings.caFiles.caCert },
      { path: SANDBOX_CA_BUNDLE_PATH, content: settings.caFiles.bundle },
    ],
    socketPath: proxy.socketPath,
    async environmentFor(ownerId, network) {
      const secrets: EgressSecret[] = [];
      for (const name of network?.secrets ?? []) {
        const declared = config.egress.secrets[name]!;
        secrets.push({ name, value: await secretValue(name), hosts: declared.hosts, inject: declared.inject });
      }
      let registration;
      try {
        registration = proxy.register(ownerId, {
          network: { allowedHosts: network?.allowedHosts ?? [], presets: network?.presets ?? [], mode: network?.mode ?? 'enforce' },
          secrets,
        });
      } catch (error) {
        throw new HangarError('VALIDATION_FAILED', `network: ${(error as Error).message}`);
      }
      return egressEnvironment({
        port: config.egress.sandboxPort,
        token: registration.token,
        caBundlePath: SANDBOX_CA_BUNDLE_PATH,
        caCertPath: SANDBOX_CA_CERT_PATH,
        secretPlaceholders: registration.secretPlaceholders,
      });
    },
    async revoke(ownerId) {
      await proxy.revoke(ownerId);
      await settings.flushRecords();
    },
  };
}
