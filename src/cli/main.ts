// The `hangar` command: serve the API, run one task from the terminal, serve the scripted model.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import { Command, InvalidArgumentError } from 'commander';
import { HangarApiError, HangarClient, type SessionView, type TaskRequest, type TaskView } from '../client/hangar-client.js';
import { loadConfig } from '../config/load-config.js';
import { HangarError } from '../errors/errors.js';
import { loadScenarioFile } from '../model/scenario.js';
import { startScriptedModelServer } from '../model/scripted-model-server.js';
import { openRunTarget, type RunTarget } from '../runtime/run-target.js';
import { sandboxHostProblem, startServer } from '../runtime/serve.js';
import { createLogger } from '../telemetry/logger.js';
import { INTERRUPTED_EXIT_CODE, registerTaskCommands, runTaskInTerminal, taskExitCode, watchInterrupts } from './task-commands.js';
import { HANGAR_VERSION } from '../version.js';

function parseInteger(label: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError(`${label} must be a whole number, got "${value}"`);
    return parsed;
  };
}

function parseNumber(label: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError(`${label} must be a positive number, got "${value}"`);
    return parsed;
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface ServerFlags {
  config?: string;
  dataDir?: string;
  host?: string;
  port?: number;
  logLevel?: string;
}

function configFromFlags(flags: ServerFlags) {
  return loadConfig({
    ...(flags.config ? { file: flags.config } : {}),
    env: process.env,
    overrides: {
      ...(flags.dataDir ? { dataDir: flags.dataDir } : {}),
      ...(flags.logLevel ? { logLevel: flags.logLevel } : {}),
      server: { ...(flags.host ? { host: flags.host } : {}), ...(flags.port !== undefined ? { port: flags.port } : {}) },
    },
  });
}

/** Ends the process cleanly on SIGINT/SIGTERM after `close` ran; a second signal exits at once. */
function closeOnSignals(close: () => Promise<void>, signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      process.stderr.write(`\n${signal} again: exiting at once\n`);
      process.exit(signal === 'SIGINT' ? 130 : 1);
    }
    closing = true;
    process.stderr.write(`\n${signal}: shutting down\n`);
    close()
      .catch((error: unknown) => process.stderr.write(`shutdown failed: ${(error as Error).message}\n`))
      .finally(() => process.exit(signal === 'SIGINT' ? 130 : 0));
  };
  for (const signal of signals) process.on(signal, onSignal);
}

/** One line per noteworthy SDK message: the agent's text, its tool calls, their results. */
export function describeMessage(message: SDKMessage): string[] {
  const lines: string[] = [];
  if (message.type === 'system' && message.subtype === 'init') {
    lines.push(`· session ${message.session_id} (model ${message.model}, tools: ${message.tools.join(', ')})`);
  } else if (message.type === 'assistant') {
    for (const block of message.message.content) {
      if (block.type === 'text' && block.text.trim() !== '') lines.push(block.text.trim());
      if (block.type === 'tool_use') lines.push(`→ ${block.name} ${JSON.stringify(block.input).slice(0, 200)}`);
    }
  } else if (message.type === 'user' && Array.isArray(message.message.content)) {
    for (const block of message.message.content) {
      if (typeof block === 'object' && block.type === 'tool_result') {
        const text = typeof block.content === 'string' ? block.content : Array.isArray(block.content) ? block.content.map((part) => ('text' in part ? part.text : '')).join('') : '';
        lines.push(`← ${block.is_error ? 'error: ' : ''}${text.replace(/\s+/g, ' ').slice(0, 200)}`);
      }
    }
  }
  return lines;
}

/** Prints a session's events readably until `untilMessageId`'s turn ends (or forever). */
async function followEvents(api: HangarClient, id: string, after: number, untilMessageId?: string): Promise<void> {
  await api.readEvents(id, {
    after,
    onEvent: (event) => {
      const data = event.data as Record<string, unknown>;
      if (event.type === 'sdk') {
        for (const line of describeMessage(data as unknown as SDKMessage)) process.stdout.write(`${line}\n`);
      } else if (event.type === 'turn_completed') {
        process.stdout.write(`· turn done: ${String(data.result ?? '')} ($${Number(data.costUsd ?? 0).toFixed(6)} so far)\n`);
      } else if (event.type === 'turn_failed') {
        process.stdout.write(`· turn failed: ${JSON.stringify(data.error)}\n`);
      } else if (event.type !== 'checkpoint') {
        process.stdout.write(`· ${event.type} ${JSON.stringify(data)}\n`);
      }
      return untilMessageId !== undefined && (event.type === 'turn_completed' || event.type === 'turn_failed') && data.messageId === untilMessageId;
    },
  });
}

function printSummary(task: TaskView): void {
  const usage = task.usage;
  process.stdout.write('\n');
  if (task.status === 'succeeded') process.stdout.write(`result: ${task.result ?? ''}\n`);
  else process.stdout.write(`${task.status}: ${task.error?.code ?? ''} ${task.error?.message ?? ''}\n`);
  for (const file of task.files) process.stdout.write(`file ${file.change}: ${file.path} (${file.sizeBytes} bytes)\n`);
  process.stdout.write(
    `task ${task.id}: ${task.numTurns ?? 0} turns, ${task.durationMs ?? 0} ms, tokens in ${usage.inputTokens} out ${usage.outputTokens} ` +
      `cache write ${usage.cacheCreationInputTokens} read ${usage.cacheReadInputTokens}, cost $${task.costUsd.toFixed(6)}\n`,
  );
}

export function buildProgram(): Command {
  const program = new Command();
  program.name('hangar').description('Self-hosted runtime for Claude Agent SDK sessions').version(HANGAR_VERSION);

  program
    .command('serve')
    .description('start the HTTP API on the embedded defaults (SQLite, local sandboxes)')
    .option('-c, --config <file>', 'JSON config file (default ./hangar.config.json if present)')
    .option('-d, --data-dir <dir>', 'data directory (database, sandboxes, sockets)')
    .option('-H, --host <host>', 'address to listen on')
    .option('-p, --port <port>', 'port to listen on', parseInteger('--port'))
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .option('--demo', 'no API key needed: serve Hangar\'s scripted demo model as the upstream (every answer is marked [demo])')
    .action(async (flags: ServerFlags & { demo?: boolean }) => {
      const config = configFromFlags(flags);
      const { hangar, url } = await startServer(config, { logger: createLogger(config.logLevel), demo: flags.demo === true });
      closeOnSignals(() => hangar.close());
      process.stdout.write(`hangar ${HANGAR_VERSION} listening on ${url} (data in ${path.resolve(config.dataDir)})\n`);
      if (flags.demo) process.stdout.write('demo mode: the model is Hangar\'s scripted demo, not Claude; every answer is marked [demo] (set ANTHROPIC_API_KEY and drop --demo for Claude)\n');
      const problem = await sandboxHostProblem(hangar);
      if (problem !== undefined) process.stderr.write(`hangar: not ready: sandboxes cannot run on this host: ${problem}\n(/readyz answers 503 until this is fixed)\n`);
    });

  program
    .command('run')
    .description('run one task in a fresh sandbox, streaming the agent live; exits non-zero if it fails')
    .argument('<prompt>', 'what the agent should do')
    .option('-s, --server <url>', 'a running Hangar server (default: run an embedded one for this task)')
    .option('-t, --allowed-tools <tools>', 'comma-separated tools, e.g. Bash,Read,Write')
    .option('-m, --max-turns <n>', 'most agent turns', parseInteger('--max-turns'))
    .option('--model <model>', 'model id')
    .option('--memory-mb <n>', 'sandbox memory limit', parseInteger('--memory-mb'))
    .option('--cpus <n>', 'sandbox CPU cores', parseNumber('--cpus'))
    .option('--disk-mb <n>', 'sandbox workspace size', parseInteger('--disk-mb'))
    .option('-f, --file <path>', 'copy a local file into the workspace (repeatable; name[=local path])', collect, [])
    .option('--json', 'print the final task as JSON instead of the live transcript')
    .option('-c, --config <file>', 'config file for the embedded server')
    .option('-d, --data-dir <dir>', 'data directory of an embedded server, kept afterwards (default: a private one, removed after the task)')
    .option('--demo', 'no API key needed: an embedded server with Hangar\'s scripted demo model (every answer is marked [demo])')
    .action(async (prompt: string, flags: { server?: string; allowedTools?: string; maxTurns?: number; model?: string; memoryMb?: number; cpus?: number; diskMb?: number; file: string[]; json?: boolean; config?: string; dataDir?: string; demo?: boolean }) => {
      const files: Record<string, string> = {};
      for (const entry of flags.file) {
        const [name, source] = entry.includes('=') ? (entry.split('=', 2) as [string, string]) : [path.basename(entry), entry];
        try {
          files[name] = readFileSync(source, 'utf8');
        } catch (error) {
          throw new HangarError('BAD_REQUEST', `cannot read --file ${source}: ${(error as Error).message}`);
        }
      }
      const resources = {
        ...(flags.memoryMb !== undefined ? { memoryMb: flags.memoryMb } : {}),
        ...(flags.cpus !== undefined ? { cpus: flags.cpus } : {}),
        ...(flags.diskMb !== undefined ? { diskMb: flags.diskMb } : {}),
      };
      const request: TaskRequest = {
        prompt,
        ...(flags.allowedTools ? { allowedTools: flags.allowedTools.split(',').map((tool) => tool.trim()).filter(Boolean) } : {}),
        ...(flags.maxTurns !== undefined ? { maxTurns: flags.maxTurns } : {}),
        ...(flags.model ? { model: flags.model } : {}),
        ...(Object.keys(resources).length > 0 ? { resources } : {}),
        ...(Object.keys(files).length > 0 ? { files } : {}),
      };
      let target: RunTarget | undefined;
      // Ctrl-C cancels the task (through the API, embedded or not); a second one exits at once.
      const interrupts = watchInterrupts();
      try {
        // --server, else the server answering at the configured address, else one of its own (runtime/run-target.ts).
        target = await openRunTarget({
          ...(flags.server !== undefined ? { server: flags.server } : {}),
          ...(flags.dataDir !== undefined ? { dataDir: flags.dataDir } : {}),
          demo: flags.demo === true,
          loadConfig: (overrides) => configFromFlags({ ...(flags.config ? { config: flags.config } : {}), ...overrides }),
          createLogger,
        });
        if (target.embedded) closeOnSignals(() => target?.close() ?? Promise.resolve(), ['SIGTERM']);
        if (target.note !== undefined) process.stderr.write(`${target.note}\n`);
        if (interrupts.interrupted) {
          process.exitCode = INTERRUPTED_EXIT_CODE;
          return;
        }
        const task = await runTaskInTerminal(new HangarClient(target.baseUrl), request, { json: flags.json === true, interrupts, printers: { describeMessage, printSummary } });
        if (flags.json) process.stdout.write(`${JSON.stringify(task, null, 2)}\n`);
        else printSummary(task);
        process.exitCode = taskExitCode(task);
      } finally {
        interrupts.dispose();
        await target?.close();
      }
    });

  const sessions = program.command('sessions').description('sessions on a running server (long-running and hybrid)');
  const serverOption = (command: Command): Command => command.option('-s, --server <url>', 'Hangar server', 'http://127.0.0.1:8080');
  const client = (flags: { server: string }): HangarClient => new HangarClient(flags.server);

  serverOption(sessions.command('ls'))
    .description('list sessions, newest first')
    .option('--status <status>', 'running|idle|hibernated|failed|closed')
    .option('--limit <n>', 'how many', parseInteger('--limit'), 50)
    .action(async (flags: { server: string; status?: string; limit: number }) => {
      const query = new URLSearchParams({ limit: String(flags.limit), ...(flags.status ? { status: flags.status } : {}) });
      const { sessions: list } = await client(flags).call<{ sessions: SessionView[] }>('GET', `/v1/sessions?${query}`);
      for (const session of list) {
        process.stdout.write(`${session.id}  ${session.pattern.padEnd(12)} ${session.status.padEnd(10)} turns ${String(session.turns).padStart(3)}  $${session.costUsd.toFixed(6)}\n`);
      }
      if (list.length === 0) process.stdout.write('no sessions\n');
    });

  serverOption(sessions.command('show'))
    .argument('<id>', 'session id')
    .description('show one session as JSON')
    .action(async (id: string, flags: { server: string }) => {
      process.stdout.write(`${JSON.stringify(await client(flags).getSession(id), null, 2)}\n`);
    });

  serverOption(sessions.command('new'))
    .description('create a session')
    .option('--hybrid', 'a fresh sandbox per message (default: long-running)')
    .option('-t, --allowed-tools <tools>', 'comma-separated tools')
    .option('--idle-timeout <seconds>', 'hibernate after this many idle seconds', parseInteger('--idle-timeout'))
    .option('-p, --prompt <prompt>', 'first message')
    .action(async (flags: { server: string; hybrid?: boolean; allowedTools?: string; idleTimeout?: number; prompt?: string }) => {
      const session = await client(flags).createSession({
        pattern: flags.hybrid ? 'hybrid' : 'long-running',
        ...(flags.allowedTools ? { allowedTools: flags.allowedTools.split(',').map((tool) => tool.trim()).filter(Boolean) } : {}),
        ...(flags.idleTimeout !== undefined ? { idleTimeoutSec: flags.idleTimeout } : {}),
        ...(flags.prompt ? { prompt: flags.prompt } : {}),
      });
      process.stdout.write(`${session.id}\n`);
    });

  serverOption(sessions.command('send'))
    .argument('<id>', 'session id')
    .argument('<prompt>', 'message')
    .option('-f, --follow', 'follow the session until the turn ends')
    .description('queue a message (turns run one at a time, in order)')
    .action(async (id: string, prompt: string, flags: { server: string; follow?: boolean }) => {
      const api = client(flags);
      const before = await api.readEvents(id, { after: 0, follow: false, onEvent: () => false });
      const message = await api.sendMessage(id, prompt);
      process.stdout.write(`queued ${message.id} (#${message.seq})\n`);
      if (flags.follow) await followEvents(api, id, before, message.id);
    });

  serverOption(sessions.command('events'))
    .argument('<id>', 'session id')
    .option('--after <seq>', 'replay events after this sequence number', parseInteger('--after'), 0)
    .option('--no-follow', 'print stored events and exit')
    .description('print the event stream (replay, then live)')
    .action(async (id: string, flags: { server: string; after: number; follow: boolean }) => {
      await client(flags).readEvents(id, {
        after: flags.after,
        follow: flags.follow,
        onEvent: (event) => {
          process.stdout.write(`${JSON.stringify(event)}\n`);
        },
      });
    });

  serverOption(sessions.command('fork'))
    .argument('<id>', 'session id')
    .option('--checkpoint <id>', 'checkpoint to fork from (default: the latest)')
    .description('new session from a checkpoint; the original is untouched')
    .action(async (id: string, flags: { server: string; checkpoint?: string }) => {
      const fork = await client(flags).forkSession(id, flags.checkpoint ? { checkpointId: flags.checkpoint } : {});
      process.stdout.write(`${fork.id}\n`);
    });

  serverOption(sessions.command('rm'))
    .argument('<id>', 'session id')
    .description('close a session and free its sandbox')
    .action(async (id: string, flags: { server: string }) => {
      const session = await client(flags).closeSession(id);
      process.stdout.write(`${session.id} ${session.status}\n`);
    });

  serverOption(program.command('attach'))
    .argument('<id>', 'session id')
    .option('--after <seq>', 'start after this sequence number (default: everything)', parseInteger('--after'), 0)
    .description('follow a session live: the agent\'s messages and lifecycle events')
    .action(async (id: string, flags: { server: string; after: number }) => {
      await followEvents(client(flags), id, flags.after);
    });

  registerTaskCommands(program, serverOption, { describeMessage, printSummary });

  const model = program.command('model').description('the scripted Anthropic-compatible model server');
  model
    .command('serve')
    .description('serve a scenario file as an Anthropic Messages API (for offline tests of agents)')
    .requiredOption('--scenario <file>', 'scenario JSON file (see docs/scenarios.md)')
    .option('-p, --port <port>', 'port', parseInteger('--port'), 8787)
    .option('-H, --host <host>', 'address', '127.0.0.1')
    .action(async (flags: { scenario: string; port: number; host: string }) => {
      const scenario = await loadScenarioFile(flags.scenario);
      const server = await startScriptedModelServer({ scenario, host: flags.host, port: flags.port });
      closeOnSignals(() => server.close());
      process.stdout.write(`scripted model serving ${flags.scenario} on ${server.url}\n`);
    });

  return program;
}

/** Prints an error with a hint instead of a stack trace. */
function reportFailure(error: unknown): void {
  if (error instanceof HangarApiError) {
    process.stderr.write(`hangar: ${error.code}: ${error.message}\n`);
  } else if (error instanceof HangarError) {
    const hint =
      error.code === 'SANDBOX_UNAVAILABLE'
        ? '\nhint: local sandboxes need root, bubblewrap, socat and cgroups (see README "Requirements")'
        : error.code === 'CONFIG_INVALID'
          ? '\nhint: see README "Configuration" for every field'
          : '';
    process.stderr.write(`hangar: ${error.code}: ${error.message}${hint}\n`);
  } else if ((error as NodeJS.ErrnoException)?.code === 'EADDRINUSE') {
    process.stderr.write(`hangar: ${(error as Error).message}\nhint: choose another port with --port\n`);
  } else if ((error as NodeJS.ErrnoException)?.code === 'ECONNREFUSED' || (error as Error)?.message === 'fetch failed') {
    process.stderr.write(`hangar: cannot reach the server: ${(error as Error).message}\nhint: start it with \`hangar serve\` or drop --server\n`);
  } else {
    process.stderr.write(`hangar: ${(error as Error)?.message ?? String(error)}\n`);
  }
  process.exitCode = 1;
}

/** Runs the CLI with the given argv (process.argv shape). */
export async function runCli(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv).catch(reportFailure);
}
