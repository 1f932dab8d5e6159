// Starts the egress side of a Hangar process: the installation CA (made once under the data
// directory), the CA files sandboxes trust, the proxy on its socket, and the writer of its
// decisions to the store's egress log.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { HangarConfig } from '../config/config.js';
import type { EgressLogRepository } from '../store/store.js';
import { createAddressPolicy } from './address-policy.js';
import { createEgressAuditWriter } from './audit-writer.js';
import { writeCaFiles } from './ca-bundle.js';
import { loadOrCreateCa } from './certificate-authority.js';
import { startEgressProxy } from './egress-proxy.js';
import { createResolver } from './resolver.js';
import { createSandboxEgress, type SandboxEgress } from './sandbox-egress.js';

export interface StartedEgress {
  egress: SandboxEgress;
  close(): Promise<void>;
}

export async function startEgress(settings: { config: Pick<HangarConfig, 'egress'>; dataDir: string; runDir: string; store: { egress: EgressLogRepository }; logger: Logger }): Promise<StartedEgress> {
  const { config } = settings;
  const egressDir = path.join(settings.dataDir, 'egress');
  // The key stays in egressDir (0700); sandboxes get only ca/, read-only.
  const ca = await loadOrCreateCa(egressDir);
  const caDir = path.join(egressDir, 'ca');
  await mkdir(caDir, { recursive: true, mode: 0o755 });
  const caFiles = await writeCaFiles(caDir, ca.certPem);
  const audit = createEgressAuditWriter({ log: settings.store.egress, keepPerOwner: config.egress.keepRecordsPerOwner, logger: settings.logger });
  const proxy = await startEgressProxy({
    socketPath: path.join(settings.runDir, 'egress-proxy.sock'),
    resolver: createResolver({ hosts: config.egress.hosts }),
    addresses: createAddressPolicy({ allowPrivateNetworks: config.egress.allowPrivateNetworks }),
    ca,
    limits: { idleTimeoutMs: config.egress.idleTimeoutSec * 1000, maxConnections: config.egress.maxConnectionsPerSession },
    onRecord: (ownerId, record) => audit.record(ownerId, record),
  });
  return {
    egress: createSandboxEgress({ proxy, config, caFiles, caDir }),
    async close() {
      await proxy.close();
      await audit.close();
    },
  };
}
