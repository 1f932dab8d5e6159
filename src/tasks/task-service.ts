// Ephemeral tasks (the guide's pattern 1): one sandbox per task, created, used by one agent run,
// and destroyed. Records the task in the store from start to finish, with the files the agent
// changed, the tokens the gateway metered and their cost.
import path from 'node:path';
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import type { Logger } from 'pino';
import type { HangarConfig, ResourceLimits } from '../config/config.js';
import { withoutSecretValues } from '../egress/declared-secrets.js';
import type { SandboxEgress, SandboxNetwork } from '../egress/sandbox-egress.js';
import { HangarError } from '../errors/errors.js';
import type { ModelGateway } from '../gateway/model-gateway.js';
import { newRecordId } from '../ids.js';
import { costOfUsageByModel } from '../gateway/pricing.js';
import { nameRealUpstream } from '../gateway/upstream-error.js';
import type { AgentLauncher } from '../runner/agent-launcher.js';
import type { AgentOptions, AgentPermissionMode } from '../runner/agent-options.js';
import { mapSdkResult } from '../runner/map-sdk-result.js';
import { assertWorkspaceFiles } from '../runner/workspace-files.js';
import type { Sandbox, SandboxProvider } from '../sandbox/sandbox-provider.js';
import type { Admission } from '../sessions/admission.js';
import { isoNow, systemClock, type Clock } from '../sessions/clock.js';
import type { EventHub } from '../sessions/event-hub.js';
import { agentSandboxSpec, resolveResources } from '../sessions/resources.js';
import { DEFAULT_TENANT_ID, newTaskRecord, type Store, type TaskError, type TaskRecord } from '../store/store.js';
import { tenantShareOf, type TenantPolicies } from '../tenants/tenant-share.js';
import { drainTasks } from './task-drain.js';
import { taskEventWriter, type TaskEventWriter, type TaskStopReason } from './task-events.js';
import { collectChanges, digestWorkspace } from './workspace-collection.js';

/** A task: its prompt and the agent options (runner/agent-options.ts). */
export interface TaskInput extends AgentOptions {
  prompt: string;
  /** The tenant the task belongs to (default: the default tenant). */
  tenantId?: string;
}

export interface TaskRunHooks {
  /** Called with the id as soon as the task is recorded. */
  onCreated?: (task: TaskRecord) => void;
  /** Every SDK message, live. */
  onMessage?: (message: SDKMessage) => void;
}

/** What tasks need of the model gateway: a token per task and the usage it metered. */
export type TaskGateway = Pick<ModelGateway, 'socketPath' | 'upstreamLabel' | 'registerSession' | 'revokeSession' | 'setBudget' | 'usage' | 'forgetSession'>;

export interface TaskServiceDependencies {
  config: HangarConfig;
  store: Store;
  sandboxProvider: SandboxProvider;
  gateway: TaskGateway;
  /** Runs the agents (runner/agent-launcher.ts): the SDK in production, a fake in unit tests. */
  launcher: AgentLauncher;
  claudeExecutable: string;
  logger: Logger;
  /** Counts live sandboxes against sandbox.maxLive (none: no ceiling). */
  admission?: Admission;
  /** Where task events go (task-events.ts); none: tasks have no event stream. */
  events?: EventHub;
  /** Time and the task timeout (default: the system clock). */
  clock?: Clock;
  /** The egress proxy (egress/sandbox-egress.ts); none: sandboxes reach nothing but the model. */
  egress?: SandboxEgress;
  /** Tenant policies (maxConcurrentSandboxes); none: no tenant has a ceiling of its own. */
  tenants?: TenantPolicies;
}

export interface TaskService {
  /** Runs a task to completion; resolves with its final record (failed tasks resolve too). */
  run(input: TaskInput, hooks?: TaskRunHooks): Promise<TaskRecord>;
  get(id: string): Promise<TaskRecord>;
  list(query: { tenantId?: string; status?: TaskRecord['status']; limit: number; before?: string }): Promise<TaskRecord[]>;
  /**
   * Cancels a running task: its CLI and every process of its sandbox are killed, the sandbox is
   * destroyed, and the record ends `cancelled` (error CANCELLED), which this resolves with.
   * TASK_NOT_FOUND when unknown; TASK_NOT_RUNNING when it already finished (or finishes first).
   */
  cancel(id: string): Promise<TaskRecord>;
  /** True while this process runs the task (its events may still grow). */
  isRunning(id: string): boolean;
  /** Marks tasks left running by a previous process as interrupted. */
  recover(): Promise<number>;
  /**
   * Refuses new tasks, interrupts running ones (recorded `interrupted`) and waits for their sandboxes to
   * be destroyed, at most server.shutdownDrainMs; tasks still stopping then are recorded interrupted and
   * left to the sandbox provider's close(). Logs what it waits for and what it cut. Idempotent.
   */
  shutdown(): Promise<void>;
  readonly runningCount: number;
}

interface RunningTask {
  done: Promise<TaskRecord>;
  /** Asks the task to stop (the first reason wins): aborts the agent and kills its sandbox's processes. */
  stop(reason: TaskStopReason): void;
  events: TaskEventWriter;
}

/** What a stopped task's record says, by why it stopped. */
function stoppedError(reason: TaskStopReason, timeoutMs: number): TaskError {
  switch (reason) {
    case 'cancelled':
      return {
        code: 'CANCELLED',
        message: 'the task was cancelled by a client (POST /v1/tasks/:id/cancel); its processes were killed and its sandbox destroyed',
      };
    case 'shutdown':
      return { code: 'INTERRUPTED', message: 'the server shut down while the task was running; its processes were killed and its sandbox destroyed' };
    case 'timeout':
      return { code: 'INTERRUPTED', message: `task exceeded its timeout of ${timeoutMs} ms` };
  }
}

const stoppedStatus = (reason: TaskStopReason): TaskRecord['status'] => (reason === 'cancelled' ? 'cancelled' : 'interrupted');

/**
 * When the task's deadline had already passed as the agent stopped, collection still gets this long to
 * report what it can (reads stop at its end; files not reached are reported from their stat identity).
 */
const LATE_COLLECTION_MS = 5_000;

/** Rejects workspace paths that are absolute or climb out of the workspace. */
export function assertWorkspaceRelativePath(file: string): void {
  const normalized = path.posix.normalize(file);
  if (file === '' || path.posix.isAbsolute(file) || normalized.startsWith('..') || normalized.includes('\0')) {
    throw new HangarError('VALIDATION_FAILED', `file path "${file}" must be relative to the workspace and stay inside it`);
  }
}

export function createTaskService(dependencies: TaskServiceDependencies): TaskService {
  const { config, store, sandboxProvider, gateway, launcher, claudeExecutable, logger, egress } = dependencies;
  const clock = dependencies.clock ?? systemClock;
  const running = new Map<string, RunningTask>();
  let shuttingDown: Promise<void> | undefined;

  interface Execution {
    abort: AbortController;
    /** The task's sandbox, once created: stop() kills its processes. */
    sandbox?: Sandbox;
    events: TaskEventWriter;
  }

  const execute = async (task: TaskRecord, input: TaskInput, resources: ResourceLimits, execution: Execution, hooks: TaskRunHooks): Promise<TaskRecord> => {
    const { abort, events } = execution;
    const started = clock.now();
    const log = logger.child({ taskId: task.id });
    let sandbox: Sandbox | undefined;
    let destroying: Promise<void> | undefined;
    const stderrTail: string[] = [];
    const stopReason = (): TaskStopReason | undefined => (abort.signal.aborted ? (abort.signal.reason as TaskStopReason) : undefined);
    try {
      // No id: the provider may hand out a sandbox it made ahead of need (warm pool).
      sandbox = await sandboxProvider.create(agentSandboxSpec(config, { gateway, claudeExecutable, egress }, resources));
      execution.sandbox = sandbox;
      if (abort.signal.aborted) throw new HangarError('CONFLICT', 'the task was stopped before its agent started');
      events.started(sandbox.id);
      for (const [file, content] of Object.entries(input.files ?? {})) await sandbox.writeFile(file, content);
      const before = await digestWorkspace(sandbox, config.agent.fileCollection, abort.signal);
      const token = gateway.registerSession(task.id, task.tenantId);
      // The budget holds at the gateway too: no model call starts once it is spent.
      if (typeof task.options.maxBudgetUsd === 'number') gateway.setBudget(task.id, { limitUsd: task.options.maxBudgetUsd, spentUsd: 0 });
      const environment =
        egress === undefined
          ? undefined
          : await egress.environmentFor({ kind: 'task', id: task.id }, task.options.network as SandboxNetwork | undefined, task.tenantId);
      const outcome = await launcher.run({
        ...(environment !== undefined ? { environment } : {}),
        sandbox,
        prompt: input.prompt,
        gateway: { token, port: config.gateway.sandboxPort },
        claudeExecutable,
        maxTurns: task.options.maxTurns as number,
        allowedTools: task.options.allowedTools as string[],
        ...(Array.isArray(task.options.disallowedTools) ? { disallowedTools: task.options.disallowedTools as string[] } : {}),
        permissionMode: task.options.permissionMode as AgentPermissionMode,
        ...(input.appendSystemPrompt ? { appendSystemPrompt: input.appendSystemPrompt } : {}),
        ...(task.options.model ? { model: task.options.model as string } : {}),
        ...(typeof task.options.maxBudgetUsd === 'number' ? { maxBudgetUsd: task.options.maxBudgetUsd } : {}),
        maxRetries: config.agent.maxRetries,
        abortSignal: abort.signal,
        onMessage: (message) => {
          events.message(message);
          hooks.onMessage?.(message);
        },
        onStderr: (chunk) => {
          stderrTail.push(chunk);
          if (stderrTail.length > 50) stderrTail.shift();
        },
      });
      gateway.revokeSession(task.id);
      // Its egress log is complete before the task's record is.
      await egress?.revoke(task.id);
      // Nothing the agent left behind runs on while its files are collected.
      await sandbox.stopProcesses?.();
      // The task's deadline covers collection too; a task stopped by it or cancelled still reports what it
      // can, briefly; at shutdown, files are reported from their stat identity only (no reads).
      const collectionSignal = !abort.signal.aborted
        ? abort.signal
        : stopReason() === 'shutdown'
          ? AbortSignal.abort()
          : AbortSignal.timeout(LATE_COLLECTION_MS);
      const [{ files, report: fileCollection }, stats] = await Promise.all([
        collectChanges(sandbox, before, config.agent.fileCollection, collectionSignal),
        sandbox.stats(),
      ]);
      // Everything the record needs is read: the sandbox goes while the record is written.
      destroying = sandbox.destroy().catch((error: unknown) => log.error({ err: error }, 'sandbox destroy failed'));
      const metered = gateway.usage(task.id);
      const result = outcome.result;
      const resultFailure = result === undefined ? undefined : mapSdkResult(result);
      const succeeded = resultFailure === null;
      let error: TaskRecord['error'] = null;
      if (!succeeded) {
        const reason = stopReason();
        error =
          reason !== undefined
            ? stoppedError(reason, config.agent.taskTimeoutMs)
            : (resultFailure ?? {
                code: outcome.error?.code ?? 'AGENT_FAILED',
                message: `${outcome.error?.message ?? 'agent failed'}${stderrTail.length > 0 ? ` (stderr: ${stderrTail.join('').slice(-500).trim()})` : ''}`,
              });
        error.message = nameRealUpstream(error.message, config.gateway.sandboxPort, gateway.upstreamLabel);
        if (stats.oomKills > 0) error.message += ` (the sandbox's memory limit of ${resources.memoryMb} MiB OOM-killed ${stats.oomKills} process(es))`;
      }
      return await store.tasks.update(task.id, {
        status: succeeded ? 'succeeded' : stopReason() !== undefined ? stoppedStatus(stopReason()!) : 'failed',
        finishedAt: isoNow(clock),
        durationMs: clock.now() - started,
        result: result !== undefined && result.subtype === 'success' ? result.result : null,
        error,
        numTurns: result?.num_turns ?? null,
        agentSessionId: outcome.agentSessionId ?? null,
        usage: metered.total,
        usageByModel: metered.byModel,
        costUsd: costOfUsageByModel(config.pricing, metered.byModel),
        files,
        sandboxReport: {
          sandboxId: sandbox.id,
          oomKills: stats.oomKills,
          memoryPeakBytes: stats.memoryPeakBytes ?? null,
          modelRequests: metered.requests,
          failedModelRequests: metered.failedRequests,
          fileCollection,
        },
      });
    } catch (caught) {
      const reason = stopReason();
      const failure = caught instanceof HangarError ? caught : new HangarError('INTERNAL', (caught as Error).message, { cause: caught });
      if (reason === undefined) log.error({ err: caught, sandboxId: sandbox?.id }, 'task failed');
      else log.info({ reason, sandboxId: sandbox?.id }, 'task stopped before its agent finished');
      const metered = gateway.usage(task.id);
      return await store.tasks.update(task.id, {
        status: reason !== undefined ? stoppedStatus(reason) : 'failed',
        finishedAt: isoNow(clock),
        durationMs: clock.now() - started,
        error: reason !== undefined ? stoppedError(reason, config.agent.taskTimeoutMs) : { code: failure.code, message: failure.message },
        usage: metered.total,
        usageByModel: metered.byModel,
        costUsd: costOfUsageByModel(config.pricing, metered.byModel),
      });
    } finally {
      gateway.forgetSession(task.id);
      await egress?.revoke(task.id);
      // A task runs once: the secrets it declared go when it ends.
      await egress?.forgetSecrets({ kind: 'task', id: task.id }).catch((error: unknown) => log.error({ err: error }, 'deleting the task secrets failed'));
      if (sandbox !== undefined) {
        await (destroying ?? sandbox.destroy().catch((error: unknown) => log.error({ err: error }, 'sandbox destroy failed')));
      }
    }
  };

  return {
    async run(input, hooks = {}) {
      if (shuttingDown !== undefined) throw new HangarError('SANDBOX_UNAVAILABLE', 'the server is shutting down and takes no new tasks');
      const resources = resolveResources(config, input.resources);
      // Checked before the task is recorded or a sandbox made (workspace-files.ts, shared with sessions).
      assertWorkspaceFiles(input.files, { diskMb: resources.diskMb });
      const tenantId = input.tenantId ?? DEFAULT_TENANT_ID;
      const share = await tenantShareOf(dependencies.tenants, tenantId);
      const task = newTaskRecord({
        id: newRecordId('task'),
        tenantId,
        prompt: input.prompt,
        options: {
          maxTurns: input.maxTurns ?? config.agent.defaultMaxTurns,
          allowedTools: input.allowedTools ?? config.agent.defaultAllowedTools,
          ...(input.disallowedTools !== undefined && input.disallowedTools.length > 0 ? { disallowedTools: input.disallowedTools } : {}),
          permissionMode: input.permissionMode ?? 'dontAsk',
          ...(input.maxBudgetUsd !== undefined ? { maxBudgetUsd: input.maxBudgetUsd } : {}),
          resources,
          ...((input.model ?? config.agent.model) ? { model: input.model ?? config.agent.model } : {}),
          ...(input.appendSystemPrompt ? { appendSystemPrompt: input.appendSystemPrompt } : {}),
          files: Object.keys(input.files ?? {}),
          // The record keeps declared secrets without their values (sealed into the store below).
          ...(input.network !== undefined ? { network: withoutSecretValues(input.network) } : {}),
        },
        createdAt: isoNow(clock),
      });
      // Admission (admission.ts): a live-sandbox slot is held from before the task is recorded until its sandbox is gone.
      const slot = dependencies.admission?.acquire('a new task', share);
      await (async () => {
        await egress?.keepSecrets({ kind: 'task', id: task.id }, input.network);
        await store.tasks.insert(task);
      })().catch((error: unknown) => {
        slot?.release();
        throw error;
      });
      const events = taskEventWriter(dependencies.events, task.id, logger);
      events.created(task);
      hooks.onCreated?.(task);
      const execution: Execution = { abort: new AbortController(), events };
      const stop = (reason: TaskStopReason): void => {
        if (execution.abort.signal.aborted) return;
        logger.info({ taskId: task.id, reason }, 'stopping task');
        events.stopping(reason);
        execution.abort.abort(reason);
        // The CLI and everything the agent started die now, whatever the SDK does with the abort.
        void execution.sandbox
          ?.stopProcesses?.()
          .catch((error: unknown) => logger.warn({ err: error, taskId: task.id }, 'stopping the sandbox processes failed'));
      };
      const timeout = clock.setTimeout(() => stop('timeout'), config.agent.taskTimeoutMs, { keepAlive: true });
      const done = execute(task, input, resources, execution, hooks).then(async (final) => {
        await events.finished(final);
        return final;
      });
      running.set(task.id, { done, stop, events });
      try {
        return await done;
      } finally {
        clock.clearTimeout(timeout);
        running.delete(task.id);
        slot?.release();
      }
    },
    async cancel(id) {
      const entry = running.get(id);
      if (entry === undefined) {
        const task = await this.get(id);
        throw new HangarError(
          'TASK_NOT_RUNNING',
          task.status === 'running' ? `task ${id} is not running in this server` : `task ${id} already ${task.status}; only a running task can be cancelled`,
        );
      }
      entry.stop('cancelled');
      const final = await entry.done;
      if (final.status !== 'cancelled') throw new HangarError('TASK_NOT_RUNNING', `task ${id} ${final.status} before it could be cancelled`);
      return final;
    },
    isRunning(id) {
      return running.has(id);
    },
    async get(id) {
      const task = await store.tasks.get(id);
      if (task === undefined) throw new HangarError('TASK_NOT_FOUND', `task ${id} does not exist`);
      return task;
    },
    list(query) {
      return store.tasks.list(query);
    },
    recover() {
      return store.tasks.interruptRunning({ code: 'INTERRUPTED', message: 'the server stopped while the task was running' });
    },
    shutdown() {
      shuttingDown ??= drainTasks(running, {
        drainMs: config.server.shutdownDrainMs,
        logger,
        clock,
        cut: async (id, entry) => {
          const final = await store.tasks.update(id, {
            status: 'interrupted',
            finishedAt: isoNow(clock),
            error: {
              code: 'INTERRUPTED',
              message: `the server shut down while the task was running; it was still stopping after server.shutdownDrainMs (${config.server.shutdownDrainMs} ms)`,
            },
          });
          await entry.events.finished(final);
        },
      }).then(() => undefined);
      return shuttingDown;
    },
    get runningCount() {
      return running.size;
    },
  };
}
