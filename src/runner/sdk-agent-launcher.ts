// The AgentLauncher over the Claude Agent SDK: query() on the host, the Claude Code CLI inside the
// sandbox (agent-runner.ts for one-shot runs, agent-session.ts for live conversations).
import type { AgentLauncher } from './agent-launcher.js';
import { runAgent } from './agent-runner.js';
import { startAgentSession } from './agent-session.js';

export function createSdkAgentLauncher(): AgentLauncher {
  return { run: runAgent, startSession: startAgentSession };
}
