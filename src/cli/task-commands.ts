// Tasks from the terminal: `hangar run` follows the task it started through the task event stream
// and cancels it on Ctrl-C; `hangar tasks ls|show|follow|cancel` act on a running server's tasks.
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import type { Command } from 'commander';
import { HangarApiError, type HangarClient, type TaskEventView, type TaskRequest, type TaskView } from '../client/hangar-client.js';
import { addEgressCommand } from './egress-command.js';
import { clientFor as client, jsonOption, parseInteger, printFields, printJson, serverOption } from './cli-options.js';

/** Exit code of a command the user interrupted (128 + SIGINT). */
export const INTERRUPTED_EXIT_CODE = 130;

export interface TaskPrinters {
  describeMessage(message: SDKMessage): string[];
  printSummary(task: TaskView): void;
}

export interface InterruptWatch {
  /** True once Ctrl-C was pressed. */
  readonly interrupted: boolean;
  /** What the first Ctrl-C does (run now if it was already pressed). */
  onInterrupt(handler: () => void): void;
  dispose(): void;
}

/** Watches SIGINT: the first calls the handler; a second one exits at once with 130. */
export function watchInterrupts(): InterruptWatch {
  let count = 0;
  let handler: (() => void) | undefined;
  const onSigint = (): void => {
    count += 1;
    if (count === 1) {
      if (handler !== undefined) handler();
      else process.stderr.write('\n· interrupted (press Ctrl-C again to exit at once)\n');
      return;
    }
    process.stderr.write('\n· second Ctrl-C: exiting at once\n');
    process.exit(INTERRUPTED_EXIT_CODE);
  };
  process.on('SIGINT', onSigint);
  return {
    get interrupted() {
      return count > 0;
    },
    onInterrupt(next) {
      handler = next;
      if (count > 0) next();
    },
    dispose() {
      process.off('SIGINT', onSigint);
    },
  };
}

/** Prints a task event readably (SDK messages as the agent's lines, lifecycle events as `·` lines). */
function printTaskEvent(event: TaskEventView, printers: TaskPrinters): void {
  const data = event.data as Record<string, unknown>;
  if (event.type === 'sdk') {
    for (const line of printers.describeMessage(data as unknown as SDKMessage)) process.stdout.write(`${line}\n`);
  } else if (event.type === 'task_started') {
    process.stdout.write(`· sandbox ${String(data.sandboxId)}\n`);
  } else if (event.type === 'task_stopping') {
    process.stdout.write(`· stopping (${String(data.reason)})\n`);
  }
}

/** Asks the server to cancel the task and says what happened, on stderr. */
async function cancelAndReport(client: HangarClient, id: string): Promise<void> {
  process.stderr.write(`\n· cancelling task ${id} (press Ctrl-C again to exit at once)\n`);
  try {
    await client.cancelTask(id);
    process.stderr.write(`· task ${id} cancelled: its processes were killed and its sandbox destroyed\n`);
  } catch (error) {
    const reason = error instanceof HangarApiError ? `${error.code}: ${error.message}` : (error as Error).message;
    process.stderr.write(`· could not cancel task ${id}: ${reason}\n`);
  }
}

/**
 * Starts a task (202), follows its event stream to the end (reconnecting with Last-Event-ID) and
 * resolves with its final record. The first Ctrl-C cancels it through the API.
 */
export async function runTaskInTerminal(
  client: HangarClient,
  request: TaskRequest,
  options: { json: boolean; interrupts: InterruptWatch; printers: TaskPrinters },
): Promise<TaskView> {
  const created = await client.createTask(request);
  if (!options.json) process.stdout.write(`· task ${created.id}\n`);
  let cancelling: Promise<void> | undefined;
  options.interrupts.onInterrupt(() => {
    cancelling ??= cancelAndReport(client, created.id);
  });
  const final = await client.followTask(created.id, { onEvent: (event) => !options.json && printTaskEvent(event, options.printers) });
  await cancelling;
  return final;
}

/** Exit code of a finished task: 0 succeeded, 130 cancelled, 1 otherwise. */
export function taskExitCode(task: TaskView): number {
  return task.status === 'succeeded' ? 0 : task.status === 'cancelled' ? INTERRUPTED_EXIT_CODE : 1;
}

/** `hangar tasks ...`: commands on a running server's tasks. */
export function registerTaskCommands(program: Command, printers: TaskPrinters): void {
  const tasks = program.command('tasks').description('ephemeral tasks on a running server');

  jsonOption(serverOption(tasks.command('ls')))
    .description('list tasks, newest first')
    .option('--status <status>', 'running|succeeded|failed|cancelled|interrupted')
    .option('--limit <n>', 'how many', parseInteger('--limit'), 50)
    .action(async (flags: { server: string; status?: string; limit: number; json?: boolean }) => {
      const { tasks: list } = await client(flags).listTasks({ limit: flags.limit, ...(flags.status ? { status: flags.status } : {}) });
      if (flags.json) return printJson(list);
      for (const task of list) {
        process.stdout.write(
          `${task.id}  ${task.status.padEnd(11)} ${task.createdAt}  $${task.costUsd.toFixed(6)}  ${task.prompt.replace(/\s+/g, ' ').slice(0, 60)}\n`,
        );
      }
      if (list.length === 0) process.stdout.write('no tasks\n');
    });

  jsonOption(serverOption(tasks.command('show')))
    .argument('<id>', 'task id')
    .description('show one task')
    .action(async (id: string, flags: { server: string; json?: boolean }) => {
      const task = await client(flags).getTask(id);
      if (flags.json) return printJson(task);
      printFields({ ...task, files: task.files.length }, [
        'id',
        'status',
        'prompt',
        'result',
        'error',
        'files',
        'numTurns',
        'durationMs',
        'costUsd',
        'createdAt',
      ]);
    });

  addEgressCommand(tasks, 'tasks');

  serverOption(tasks.command('follow'))
    .argument('<id>', 'task id')
    .option('--after <seq>', 'start after this sequence number (default: everything)', '0')
    .option('--json', 'print each event as a JSON line')
    .description('follow a task live (replay, then live until it ends); Ctrl-C stops following, the task runs on')
    .action(async (id: string, flags: { server: string; after: string; json?: boolean }) => {
      const stop = new AbortController();
      const onSigint = (): void => stop.abort();
      process.once('SIGINT', onSigint);
      try {
        const final = await client(flags).followTask(id, {
          after: Number(flags.after) || 0,
          signal: stop.signal,
          onEvent: (event) => (flags.json ? process.stdout.write(`${JSON.stringify(event)}\n`) : printTaskEvent(event, printers)),
        });
        if (stop.signal.aborted) {
          process.stderr.write(`· stopped following; task ${id} is ${final.status}\n`);
          return;
        }
        if (!flags.json) printers.printSummary(final);
        process.exitCode = taskExitCode(final);
      } finally {
        process.off('SIGINT', onSigint);
      }
    });

  serverOption(tasks.command('cancel'))
    .argument('<id>', 'task id')
    .description('cancel a running task (its processes are killed, its sandbox destroyed)')
    .action(async (id: string, flags: { server: string }) => {
      const task = await client(flags).cancelTask(id);
      process.stdout.write(`${task.id} ${task.status}\n`);
    });
}
