// The scripted model server's /_scripted/ endpoints, which drive it remotely: read and clear the
// recorded requests, read the scenario and its reply uses, start the script over, post a new one.
import type { FastifyInstance } from 'fastify';
import type { ReplyUse } from './reply-cursor.js';
import type { RecordedRequest } from './recorded-requests.js';
import { parseScenario, type Scenario } from './scenario.js';

/** What the control endpoints read and change of the running server. */
export interface ScriptedControl {
  requests: RecordedRequest[];
  clearRequests(): void;
  scenario(): Scenario;
  replyUses(): ReplyUse[];
  /** Starts the current scenario over (reply uses back to zero). */
  reset(): void;
  setScenario(scenario: Scenario): void;
}

export function registerControlRoutes(app: FastifyInstance, control: ScriptedControl): void {
  app.get('/_scripted/requests', async () => ({ requests: control.requests }));

  app.delete('/_scripted/requests', async () => {
    control.clearRequests();
    return { cleared: true };
  });

  app.get('/_scripted/scenario', async () => ({ scenario: control.scenario(), uses: control.replyUses() }));

  app.post('/_scripted/reset', async () => {
    control.reset();
    return { ok: true, replies: control.scenario().replies.length };
  });

  app.post('/_scripted/scenario', async (request) => {
    control.setScenario(parseScenario(request.body, 'posted scenario'));
    return { ok: true, replies: control.scenario().replies.length };
  });
}
