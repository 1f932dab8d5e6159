// The `hangar` command: serve the API, run one task from the terminal, serve the scripted model.
import path from 'node:path';
import { Command, Option } from 'commander';
import { HangarApiError, HangarClient, type TaskRequest } from '../client/hangar-client.js';
import { loadConfig } from '../config/load-config.js';
import { HangarError } from '../errors/errors.js';
import { loadScenarioFile } from '../model/scenario.js';
import { startScriptedModelServer } from '../model/scripted-model-server.js';
import { openRunTarget, type RunTarget } from '../runtime/run-target.js';
import { sandboxHostProblem, startServer } from '../runtime/serve.js';
import { LOG_FORMATS, type LogFormat } from '../telemetry/log-format.js';
import { createCliLogger, type LogOutput } from '../telemetry/logger.js';
import {
  collect,
  networkFromFlags,
  networkOptions,
  parseInteger,
  readLocalFiles,
  resourceOptions,
  resourcesFromFlags,
  splitList,
  type NetworkFlags,
  type ResourceFlags,
} from './cli-options.js';
import { apiErrorHint, CLI_RETRY, describeMessage, printSummary } from './output.js';
import { registerResourceCommands } from './resource-commands.js';
import { registerKeyCommands } from './key-commands.js';
import { registerTenantCommands } from './tenant-commands.js';
import { registerSessionCommands } from './session-commands.js';
import { INTERRUPTED_EXIT_CODE, registerTaskCommands, runTaskInTerminal, taskExitCode, watchInterrupts } from './task-commands.js';
import { ADMIN_KEY_FILE } from '../auth/admin-key.js';
import { HANGAR_VERSION } from '../version.js';

interface ServerFlags {
  config?: string;
  dataDir?: string;
  host?: string;
  port?: number;
  logLevel?: string;
  logFormat?: LogFormat;
}

/** Adds --log-level and --log-format to a command that runs a Hangar. */
function logOptions(command: Command): Command {
  return command
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .addOption(new Option('--log-format <format>', 'logs on stderr: pretty (one readable line each) or json').choices(LOG_FORMATS).default('pretty'));
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

interface RunFlags extends ResourceFlags, NetworkFlags {
  server?: string;
  allowedTools?: string;
  disallowedTools?: string;
  maxTurns?: number;
  model?: string;
  file: string[];
  json?: boolean;
  config?: string;
  dataDir?: string;
  logLevel?: string;
  logFormat?: LogFormat;
  logFile?: string;
  demo?: boolean;
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

export function buildProgram(): Command {
  const program = new Command();
  program.name('hangar').description('Self-hosted runtime for Claude Agent SDK sessions').version(HANGAR_VERSION);

  logOptions(program.command('serve'))
    .description('start the HTTP API on the embedded defaults (SQLite, local sandboxes)')
    .option('-c, --config <file>', 'JSON config file (default ./hangar.config.json if present)')
    .option('-d, --data-dir <dir>', 'data directory (database, sandboxes, sockets)')
    .option('-H, --host <host>', 'address to listen on')
    .option('-p, --port <port>', 'port to listen on', parseInteger('--port'))
    .option('--log-file [file]', 'write logs (JSON lines) to this file instead of stderr (default <data dir>/hangar.log)')
    .option('--demo', "no API key needed: serve Hangar's scripted demo model as the upstream (every answer is marked [demo])")
    .action(async (flags: ServerFlags & { demo?: boolean; logFile?: string | true }) => {
      const config = configFromFlags(flags);
      const logFile = flags.logFile === true ? path.join(config.dataDir, 'hangar.log') : flags.logFile;
      const output: LogOutput = { ...(flags.logFormat ? { format: flags.logFormat } : {}), ...(logFile !== undefined ? { file: path.resolve(logFile) } : {}) };
      const { hangar, url } = await startServer(config, { logger: createCliLogger(config.logLevel, output), demo: flags.demo === true });
      closeOnSignals(() => hangar.close());
      process.stdout.write(`hangar ${HANGAR_VERSION} listening on ${url} (data in ${path.resolve(config.dataDir)})\n`);
      if (output.file !== undefined) process.stdout.write(`logs: ${output.file}\n`);
      if (config.auth.mode === 'keys') {
        const keyFile = path.resolve(config.dataDir, ADMIN_KEY_FILE);
        process.stdout.write(`API keys required: the admin key is in ${keyFile} (the local CLI reads it; elsewhere set HANGAR_API_KEY)\n`);
      } else {
        process.stdout.write('auth.mode none: the API takes requests without a key (local use only)\n');
      }
      if (flags.demo)
        process.stdout.write(
          "demo mode: the model is Hangar's scripted demo, not Claude; every answer is marked [demo] (set ANTHROPIC_API_KEY and drop --demo for Claude)\n",
        );
      const problem = await sandboxHostProblem(hangar);
      if (problem !== undefined)
        process.stderr.write(`hangar: not ready: sandboxes cannot run on this host: ${problem}\n(/readyz answers 503 until this is fixed)\n`);
    });

  networkOptions(resourceOptions(logOptions(program.command('run'))))
    .description('run one task in a fresh sandbox, streaming the agent live; exits non-zero if it fails')
    .argument('<prompt>', 'what the agent should do')
    .addOption(
      new Option(
        '-s, --server <url>',
        'a running Hangar server (default: $HANGAR_URL, else the configured address if a Hangar answers there, else an embedded one for this task)',
      ).env('HANGAR_URL'),
    )
    .option('-t, --allowed-tools <tools>', 'comma-separated tools or permission rules, e.g. "Read,Write,Bash(npm test:*)"')
    .option('--disallowed-tools <tools>', 'comma-separated tools or permission rules the agent may never use, e.g. "Bash(rm:*)"')
    .option('-m, --max-turns <n>', 'most agent turns', parseInteger('--max-turns'))
    .option('--model <model>', 'model id')
    .option('-f, --file <path>', 'copy a local file into the workspace (repeatable; name[=local path])', collect, [])
    .option('--json', 'print the final task as JSON instead of the live transcript')
    .option('-c, --config <file>', 'config file for the embedded server')
    .option('-d, --data-dir <dir>', 'data directory of an embedded server, kept afterwards (default: a private one, removed after the task)')
    .option('--log-file <file>', "write the embedded server's logs (JSON lines) to this file instead of stderr")
    .option('--demo', "no API key needed: an embedded server with Hangar's scripted demo model (every answer is marked [demo])")
    .action(async (prompt: string, flags: RunFlags) => {
      const files = readLocalFiles(flags.file);
      const resources = resourcesFromFlags(flags);
      const network = networkFromFlags(flags);
      const request: TaskRequest = {
        prompt,
        ...(network !== undefined ? { network: network as TaskRequest['network'] } : {}),
        ...(flags.allowedTools ? { allowedTools: splitList(flags.allowedTools) } : {}),
        ...(flags.disallowedTools ? { disallowedTools: splitList(flags.disallowedTools) } : {}),
        ...(flags.maxTurns !== undefined ? { maxTurns: flags.maxTurns } : {}),
        ...(flags.model ? { model: flags.model } : {}),
        ...(resources !== undefined ? { resources } : {}),
        ...(Object.keys(files).length > 0 ? { files } : {}),
      };
      const output: LogOutput = {
        ...(flags.logFormat ? { format: flags.logFormat } : {}),
        ...(flags.logFile !== undefined ? { file: path.resolve(flags.logFile) } : {}),
      };
      let target: RunTarget | undefined;
      // Ctrl-C cancels the task (through the API, embedded or not); a second one exits at once.
      const interrupts = watchInterrupts();
      try {
        // --server (or HANGAR_URL), else the server answering at the configured address, else one of its own (runtime/run-target.ts).
        target = await openRunTarget({
          ...(flags.server !== undefined ? { server: flags.server } : {}),
          ...(flags.dataDir !== undefined ? { dataDir: flags.dataDir } : {}),
          demo: flags.demo === true,
          loadConfig: (overrides) => configFromFlags({ ...(flags.config ? { config: flags.config } : {}), ...overrides }),
          createLogger: (level) => createCliLogger(flags.logLevel !== undefined ? (flags.logLevel as typeof level) : level, output),
        });
        if (target.embedded) closeOnSignals(() => target?.close() ?? Promise.resolve(), ['SIGTERM']);
        if (target.note !== undefined) process.stderr.write(`${target.note}\n`);
        if (interrupts.interrupted) {
          process.exitCode = INTERRUPTED_EXIT_CODE;
          return;
        }
        const client = new HangarClient(target.baseUrl, { apiKey: process.env.HANGAR_API_KEY ?? target.apiKey, retry: CLI_RETRY });
        const task = await runTaskInTerminal(client, request, {
          json: flags.json === true,
          interrupts,
          printers: { describeMessage, printSummary },
        });
        if (flags.json) process.stdout.write(`${JSON.stringify(task, null, 2)}\n`);
        else printSummary(task);
        process.exitCode = taskExitCode(task);
      } finally {
        interrupts.dispose();
        await target?.close();
      }
    });

  registerSessionCommands(program);
  registerKeyCommands(program);
  registerTenantCommands(program);
  registerResourceCommands(program);
  registerTaskCommands(program, { describeMessage, printSummary });

  const model = program.command('model').description('the scripted Anthropic-compatible model server');
  model
    .command('serve')
    .description('serve a scenario file as an Anthropic Messages API (for offline tests of agents)')
    .requiredOption('--scenario <file>', 'scenario JSON file (see docs/scenarios.md)')
    .option('-p, --port <port>', 'port', parseInteger('--port'), 8787)
    .option('-H, --host <host>', 'address', '127.0.0.1')
    .option('--loop', 'start the script over when it runs out (the scenario\'s "whenExhausted": "restart"), so the same run can be repeated')
    .action(async (flags: { scenario: string; port: number; host: string; loop?: boolean }) => {
      const loaded = await loadScenarioFile(flags.scenario);
      const scenario = flags.loop ? { ...loaded, whenExhausted: 'restart' as const } : loaded;
      const server = await startScriptedModelServer({ scenario, host: flags.host, port: flags.port });
      closeOnSignals(() => server.close());
      process.stdout.write(`scripted model serving ${flags.scenario} on ${server.url}${flags.loop ? ' (looping)' : ''}\n`);
    });

  return program;
}

/** Prints an error with a hint instead of a stack trace. */
function reportFailure(error: unknown): void {
  if (error instanceof HangarApiError) {
    const hint = apiErrorHint(error);
    process.stderr.write(`hangar: ${error.code}: ${error.message}\n${hint !== undefined ? `${hint}\n` : ''}`);
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
    process.stderr.write(
      `hangar: cannot reach the server: ${(error as Error).message}\nhint: start it with \`hangar serve\`, or point --server / HANGAR_URL at a running one\n`,
    );
  } else {
    process.stderr.write(`hangar: ${(error as Error)?.message ?? String(error)}\n`);
  }
  process.exitCode = 1;
}

/** Runs the CLI with the given argv (process.argv shape). */
export async function runCli(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv).catch(reportFailure);
}
