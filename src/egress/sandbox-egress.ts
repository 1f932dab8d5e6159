// What tasks and sessions use of the egress proxy: keep the secrets an owner (a task or session)
// declares with values, sealed in the store, before its record is stored; register the owner with
// its network settings before its agent starts, and get the environment its CLI needs (the proxy's
// address with the owner's credentials, CA variables, secret placeholders); revoke it when the
// agent stops; forget its secrets when it ends. A name in network.secrets is the tenant's secret
// of that name (tenant-secrets.ts), else the configured one; declared secrets are the owner's own.
// All are read at each registration: configured values from their variable or file (a rotated file
// takes effect with the next run), declared and tenant ones opened from the store (an owner set up
// again after a restart, a hybrid session's next turn, has them back; a tenant's secret replaced
// or deleted since is so for it, and a configured one of a deleted one's name only if the tenant's
// policy lets it use that one).
import { readFile } from 'node:fs/promises';
import type { HangarConfig } from '../config/config.js';
import { HangarError } from '../errors/errors.js';
import { SANDBOX_CA_BUNDLE_PATH, SANDBOX_CA_CERT_PATH, type CaFiles } from './ca-bundle.js';
import type { SecretOwner, SecretRepository } from '../store/store.js';
import { declaredSecrets, type RecordedSecretDeclaration, type RecordedSecretEntry, type SecretEntry } from './declared-secrets.js';
import type { EgressProxy } from './egress-proxy.js';
import type { NetworkSettings } from './policy.js';
import { egressEnvironment } from './sandbox-environment.js';
import type { SecretSealer } from './secret-sealing.js';
import type { EgressSecret } from './secrets.js';
import type { TenantSecrets } from './tenant-secrets.js';

/** Most bytes of a secret file. */
const MAX_SECRET_BYTES = 64 * 1024;

export interface SandboxNetwork extends NetworkSettings {
  /** Names of the tenant's or configured secrets (egress.secrets), and declarations of the owner's stored secrets (keepSecrets). */
  secrets?: readonly RecordedSecretEntry[];
}

export interface SandboxEgress {
  /** Files every sandbox gets read-only (the CA files). */
  readonly readOnlyFiles: ReadonlyArray<{ path: string; content: string }>;
  /** The egress proxy's socket, bridged into every sandbox. */
  readonly socketPath: string;
  /** Seals the values of the secrets the network declares and stores them under the owner: before its record is stored. */
  keepSecrets(owner: SecretOwner, network: { secrets?: readonly SecretEntry[] | undefined } | undefined): Promise<void>;
  /** Gives `to` the stored secrets of `from`, sealed for it (a fork). */
  copySecrets(from: SecretOwner, to: SecretOwner): Promise<void>;
  /** Deletes the owner's stored secrets (its task finished, its session closed). */
  forgetSecrets(owner: SecretOwner): Promise<void>;
  /** Registers an owner of `tenantId` and returns its CLI's environment for the proxy. */
  environmentFor(owner: SecretOwner, network: SandboxNetwork | undefined, tenantId: string): Promise<Record<string, string>>;
  /** Ends the owner's access and writes its last records to the egress log. */
  revoke(ownerId: string): Promise<void>;
}

export function createSandboxEgress(settings: {
  proxy: EgressProxy;
  config: Pick<HangarConfig, 'egress'>;
  caFiles: CaFiles;
  /** Writes the records waiting (audit-writer.ts). */
  flushRecords: () => Promise<void>;
  /** Where declared secrets are kept, sealed by `sealer`. */
  secrets: SecretRepository;
  sealer: SecretSealer;
  /** The tenants' own secrets, which names in network.secrets name before configured ones. */
  tenantSecrets: TenantSecrets;
  /**
   * Whether the tenant's policy lets it use the configured secret `name` now: a name that was the
   * tenant's own secret when its task or session was made may since have been deleted. None: every tenant may.
   */
  mayUseConfigured?: (tenantId: string, name: string) => Promise<boolean>;
  now?: () => string;
}): SandboxEgress {
  const { proxy, config, sealer } = settings;
  const now = settings.now ?? (() => new Date().toISOString());

  /** The value of the configured secret `name`, read from its variable or file. */
  const configuredValue = async (name: string, declared: HangarConfig['egress']['secrets'][string]): Promise<string> => {
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

  /** The declared secret with its value, opened from the owner's stored ones. */
  const openDeclared = (owner: SecretOwner, declared: RecordedSecretDeclaration, stored: Map<string, Uint8Array>): EgressSecret => {
    const sealed = stored.get(declared.name);
    if (sealed === undefined) throw new HangarError('INTERNAL', `secret ${declared.name} of ${owner.kind} ${owner.id} is not stored (any more)`);
    return {
      name: declared.name,
      value: sealer.open(owner, declared.name, sealed),
      hosts: declared.hosts,
      ...(declared.inject !== undefined ? { inject: declared.inject } : {}),
    };
  };

  return {
    readOnlyFiles: [
      { path: SANDBOX_CA_CERT_PATH, content: settings.caFiles.caCert },
      { path: SANDBOX_CA_BUNDLE_PATH, content: settings.caFiles.bundle },
    ],
    socketPath: proxy.socketPath,
    async keepSecrets(owner, network) {
      const createdAt = now();
      await settings.secrets.put(
        declaredSecrets(network?.secrets).map((secret) => ({
          owner,
          name: secret.name,
          sealed: sealer.seal(owner, secret.name, secret.value),
          createdAt,
          updatedAt: createdAt,
        })),
      );
    },
    async copySecrets(from, to) {
      const createdAt = now();
      const stored = await settings.secrets.list(from);
      await settings.secrets.put(
        stored.map((secret) => ({
          owner: to,
          name: secret.name,
          sealed: sealer.seal(to, secret.name, sealer.open(from, secret.name, secret.sealed)),
          createdAt,
          updatedAt: createdAt,
        })),
      );
    },
    async forgetSecrets(owner) {
      await settings.secrets.deleteOwner(owner);
    },
    async environmentFor(owner, network, tenantId) {
      const entries = network?.secrets ?? [];
      const stored = entries.some((entry) => typeof entry !== 'string')
        ? new Map((await settings.secrets.list(owner)).map((secret) => [secret.name, secret.sealed]))
        : new Map<string, Uint8Array>();
      const named = entries.filter((entry): entry is string => typeof entry === 'string');
      const ofTenant = await settings.tenantSecrets.open(tenantId, named);
      const secrets: EgressSecret[] = [];
      for (const entry of entries) {
        if (typeof entry !== 'string') {
          secrets.push(openDeclared(owner, entry, stored));
          continue;
        }
        // The tenant's secret of that name, else the configured one.
        const tenantSecret = ofTenant.get(entry);
        if (tenantSecret !== undefined) {
          secrets.push(tenantSecret);
          continue;
        }
        const configured = config.egress.secrets[entry];
        if (configured === undefined)
          throw new HangarError('VALIDATION_FAILED', `unknown secret ${entry}: neither tenant ${tenantId}'s (deleted?) nor configured (egress.secrets)`);
        if (settings.mayUseConfigured !== undefined && !(await settings.mayUseConfigured(tenantId, entry)))
          throw new HangarError(
            'POLICY_VIOLATION',
            `tenant ${tenantId}'s policy (network.secrets): secret ${entry} is no longer the tenant's own (deleted?) and the configured one of that name is not the tenant's to use`,
            { details: { tenantId, limit: 'network.secrets' } },
          );
        secrets.push({ name: entry, value: await configuredValue(entry, configured), hosts: configured.hosts, inject: configured.inject });
      }
      let registration;
      try {
        registration = proxy.register(owner.id, {
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
