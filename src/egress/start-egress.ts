// Starts the egress side of a Hangar process: the installation CA (made once under the data
// directory), the CA files sandboxes trust, the proxy on its socket, the writer of its decisions to
// the store's egress log, the key that seals declared and tenant secrets (made once there too), and
// the tenants' secrets, sealed with it. Secrets
// left by owners that ended without forgetting them (a crash) are deleted here.
import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import path from 'node:path';
import type { Logger } from 'pino';
import type { HangarConfig } from '../config/config.js';
import { HangarError } from '../errors/errors.js';
import type { Store } from '../store/store.js';
import { createAddressPolicy } from './address-policy.js';
import { createEgressAuditWriter } from './audit-writer.js';
import { buildCaFiles } from './ca-bundle.js';
import { loadOrCreateCa } from './certificate-authority.js';
import { startEgressProxy } from './egress-proxy.js';
import { createResolver } from './resolver.js';
import { createSandboxEgress, type SandboxEgress } from './sandbox-egress.js';
import { createSecretSealer, loadOrCreateSecretsKey } from './secret-sealing.js';
import { createTenantSecrets, type TenantSecrets } from './tenant-secrets.js';

export interface StartedEgress {
  egress: SandboxEgress;
  /** The tenants' own secrets (the admin API sets them; sandboxes of the tenant get them by name). */
  tenantSecrets: TenantSecrets;
  close(): Promise<void>;
}

export async function startEgress(settings: {
  config: Pick<HangarConfig, 'egress'>;
  dataDir: string;
  runDir: string;
  store: Pick<Store, 'egress' | 'secrets' | 'sessions'>;
  logger: Logger;
  /** Whether a tenant's policy lets it use a configured secret (sandbox-egress.ts); none: every tenant may. */
  mayUseConfigured?: (tenantId: string, name: string) => Promise<boolean>;
}): Promise<StartedEgress> {
  const { config } = settings;
  // The key stays under the data directory (egress/, 0700); sandboxes get copies of the certificates only.
  const ca = await loadOrCreateCa(path.join(settings.dataDir, 'egress'));
  const extraCa = config.egress.extraCaFile === undefined ? undefined : await readFile(config.egress.extraCaFile, 'utf8');
  if (extraCa !== undefined && !extraCa.includes('-----BEGIN CERTIFICATE-----')) {
    throw new HangarError('CONFIG_INVALID', `egress.extraCaFile ${config.egress.extraCaFile} holds no PEM certificate`);
  }
  // Sandboxes trust Hangar's CA (for intercepted hosts) and the extra CAs (for tunnelled ones).
  const caFiles = await buildCaFiles(extraCa === undefined ? ca.certPem : `${ca.certPem}${extraCa.trimEnd()}\n`);
  const audit = createEgressAuditWriter({ log: settings.store.egress, keepPerOwner: config.egress.keepRecordsPerOwner, logger: settings.logger });
  const proxy = await startEgressProxy({
    socketPath: path.join(settings.runDir, 'egress-proxy.sock'),
    resolver: createResolver({ hosts: config.egress.hosts }),
    addresses: createAddressPolicy({ allowPrivateNetworks: config.egress.allowPrivateNetworks }),
    ca,
    // Intercepted upstreams are verified against Node's CAs and the extra ones.
    ...(extraCa !== undefined ? { upstreamCa: [...rootCertificates, extraCa] } : {}),
    limits: { idleTimeoutMs: config.egress.idleTimeoutSec * 1000, maxConnections: config.egress.maxConnectionsPerSession },
    onRecord: (ownerId, record) => audit.record(ownerId, record),
  });
  const sealer = createSecretSealer(await loadOrCreateSecretsKey(settings.dataDir));
  const swept = await sweepSecrets(settings.store);
  if (swept > 0) settings.logger.info({ owners: swept }, 'deleted the stored secrets of tasks and sessions that ended without deleting them');
  const tenantSecrets = createTenantSecrets({ secrets: settings.store.secrets, sealer });
  return {
    egress: createSandboxEgress({
      proxy,
      config,
      caFiles,
      flushRecords: () => audit.flush(),
      secrets: settings.store.secrets,
      sealer,
      tenantSecrets,
      ...(settings.mayUseConfigured !== undefined ? { mayUseConfigured: settings.mayUseConfigured } : {}),
    }),
    tenantSecrets,
    async close() {
      await proxy.close();
      await audit.close();
    },
  };
}

/**
 * Deletes the stored secrets no owner will use again: every task's (no task runs in a process that is
 * starting; those of the previous one are interrupted) and those of sessions closed or gone.
 * Resolves with the number of owners whose secrets went.
 */
async function sweepSecrets(store: Pick<Store, 'secrets' | 'sessions'>): Promise<number> {
  let swept = 0;
  for (const id of await store.secrets.owners('task')) swept += (await store.secrets.deleteOwner({ kind: 'task', id })) > 0 ? 1 : 0;
  for (const id of await store.secrets.owners('session')) {
    const session = await store.sessions.get(id);
    if (session === undefined || session.status === 'closed') swept += (await store.secrets.deleteOwner({ kind: 'session', id })) > 0 ? 1 : 0;
  }
  return swept;
}
