// What the HTTP API's routes call: the services, the store, config and logger. Its own file, so the
// server and the route files all import it and none of them imports another for a type.
import type { Logger } from 'pino';
import type { Authenticator } from '../auth/authenticator.js';
import type { HangarConfig } from '../config/config.js';
import type { Admission } from '../sessions/admission.js';
import type { EventHub } from '../sessions/event-hub.js';
import type { SessionManager } from '../sessions/session-manager.js';
import type { TaskService } from '../tasks/task-service.js';
import type { Store } from '../store/store.js';
import type { TenantDirectory } from '../tenants/tenant-directory.js';
import type { TenantSecrets } from '../egress/tenant-secrets.js';

export interface ApiDependencies {
  config: HangarConfig;
  taskService: TaskService;
  sessionManager: SessionManager;
  eventHub: EventHub;
  store: Store;
  logger: Logger;
  version: string;
  /** Live-sandbox ceiling: a streamed task checks it before its stream opens (429 instead of an error event). */
  admission?: Admission;
  /** Fails (with the reason) when sandboxes cannot run on this host: /readyz then answers 503. */
  checkSandboxHost?: () => Promise<void>;
  /** Who each /v1 request is (auth.mode keys); absent: every request is let in (auth.mode none). */
  authenticator?: Authenticator;
  /** Tenants and their policies; absent: no policy applies (unit tests of the routes). */
  tenants?: TenantDirectory;
  /** The tenants' own secrets; absent: tasks and sessions name configured secrets only. */
  tenantSecrets?: TenantSecrets;
}
