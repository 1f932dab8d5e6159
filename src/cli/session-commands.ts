// `hangar sessions ...` and `hangar attach`: sessions on a running server (long-running and hybrid).
import type { Command } from 'commander';
import type { CreateSessionRequest, SessionView } from '../client/hangar-client.js';
import {
  clientFor,
  collect,
  collectKeyValue,
  jsonOption,
  parseInteger,
  parseNumber,
  printFields,
  printJson,
  readLocalFiles,
  resourceOptions,
  resourcesFromFlags,
  serverOption,
  splitList,
  type ResourceFlags,
  networkFromFlags,
  networkOptions,
  type NetworkFlags,
} from './cli-options.js';
import { addEgressCommand } from './egress-command.js';
import { followEvents } from './output.js';

interface Server {
  server: string;
}

interface NewSessionFlags extends Server, ResourceFlags, NetworkFlags {
  hybrid?: boolean;
  allowedTools?: string;
  disallowedTools?: string;
  idleTimeout?: number;
  prompt?: string;
  maxTurns?: number;
  maxBudgetUsd?: number;
  model?: string;
  file: string[];
  metadata: Record<string, string>;
  sandbox?: string;
  json?: boolean;
}

function sessionLine(session: SessionView): string {
  return `${session.id}  ${session.pattern.padEnd(12)} ${session.status.padEnd(10)} turns ${String(session.turns).padStart(3)}  $${session.costUsd.toFixed(6)}`;
}

function printSession(session: SessionView): void {
  printFields({ ...session, checkpoint: session.checkpoint?.id ?? null, usage: undefined, usageByModel: undefined }, [
    'id',
    'pattern',
    'status',
    'turns',
    'costUsd',
    'sandboxId',
    'checkpoint',
    'metadata',
    'forkedFrom',
    'error',
    'createdAt',
    'lastActivityAt',
  ]);
}

export function registerSessionCommands(program: Command): void {
  const sessions = program.command('sessions').description('sessions on a running server (long-running and hybrid)');
  addEgressCommand(sessions, 'sessions');

  jsonOption(serverOption(sessions.command('ls')))
    .description('list sessions, newest first')
    .option('--status <status>', 'running|idle|hibernated|failed|closed')
    .option('--metadata <k=v>', 'only sessions with this metadata (repeatable)', collectKeyValue('--metadata'), {})
    .option('--limit <n>', 'how many', parseInteger('--limit'), 50)
    .action(async (flags: Server & { status?: string; metadata: Record<string, string>; limit: number; json?: boolean }) => {
      const metadata = Object.entries(flags.metadata)
        .map(([key, value]) => `${key}=${value}`)
        .join(',');
      const { sessions: list } = await clientFor(flags).listSessions({
        limit: flags.limit,
        ...(flags.status ? { status: flags.status } : {}),
        ...(metadata ? { metadata } : {}),
      });
      if (flags.json) return printJson(list);
      for (const session of list) process.stdout.write(`${sessionLine(session)}\n`);
      if (list.length === 0) process.stdout.write('no sessions\n');
    });

  jsonOption(serverOption(sessions.command('show')))
    .argument('<id>', 'session id')
    .description('show one session')
    .action(async (id: string, flags: Server & { json?: boolean }) => {
      const session = await clientFor(flags).getSession(id);
      if (flags.json) printJson(session);
      else printSession(session);
    });

  networkOptions(resourceOptions(jsonOption(serverOption(sessions.command('new')))))
    .description('create a session; prints its id')
    .option('--hybrid', 'a fresh sandbox per message (default: long-running)')
    .option('-t, --allowed-tools <tools>', 'comma-separated tools or permission rules, e.g. "Read,Bash(npm test:*)"')
    .option('--disallowed-tools <tools>', 'comma-separated tools or permission rules the agent may never use')
    .option('--idle-timeout <seconds>', 'hibernate after this many idle seconds', parseInteger('--idle-timeout'))
    .option('-p, --prompt <prompt>', 'first message')
    .option('-m, --max-turns <n>', 'most agent turns per message', parseInteger('--max-turns'))
    .option('--max-budget-usd <usd>', 'the session stops taking turns once it has spent this much', parseNumber('--max-budget-usd'))
    .option('--model <model>', 'model id')
    .option('-f, --file <path>', 'copy a local file into the workspace (repeatable; name[=local path])', collect, [])
    .option('--metadata <k=v>', 'a label of the session (repeatable)', collectKeyValue('--metadata'), {})
    .option('--sandbox <id>', 'run inside this shared sandbox (hangar sandboxes new)')
    .action(async (flags: NewSessionFlags) => {
      const files = readLocalFiles(flags.file);
      const resources = resourcesFromFlags(flags);
      const network = networkFromFlags(flags);
      const session = await clientFor(flags).createSession({
        ...(network !== undefined ? { network: network as CreateSessionRequest['network'] } : {}),
        pattern: flags.hybrid ? 'hybrid' : 'long-running',
        ...(flags.allowedTools ? { allowedTools: splitList(flags.allowedTools) } : {}),
        ...(flags.disallowedTools ? { disallowedTools: splitList(flags.disallowedTools) } : {}),
        ...(flags.idleTimeout !== undefined ? { idleTimeoutSec: flags.idleTimeout } : {}),
        ...(flags.prompt ? { prompt: flags.prompt } : {}),
        ...(flags.maxTurns !== undefined ? { maxTurns: flags.maxTurns } : {}),
        ...(flags.maxBudgetUsd !== undefined ? { maxBudgetUsd: flags.maxBudgetUsd } : {}),
        ...(flags.model ? { model: flags.model } : {}),
        ...(resources !== undefined ? { resources } : {}),
        ...(Object.keys(files).length > 0 ? { files } : {}),
        ...(Object.keys(flags.metadata).length > 0 ? { metadata: flags.metadata } : {}),
        ...(flags.sandbox ? { sandboxId: flags.sandbox } : {}),
      });
      if (flags.json) printJson(session);
      else process.stdout.write(`${session.id}\n`);
    });

  serverOption(sessions.command('send'))
    .argument('<id>', 'session id')
    .argument('<prompt>', 'message')
    .option('-f, --follow', 'follow the session until the turn ends')
    .description('queue a message (turns run one at a time, in order)')
    .action(async (id: string, prompt: string, flags: Server & { follow?: boolean }) => {
      const api = clientFor(flags);
      const before = await api.readEvents(id, { after: 0, follow: false, onEvent: () => false });
      const message = await api.sendMessage(id, prompt);
      process.stdout.write(`queued ${message.id} (#${message.seq})\n`);
      if (flags.follow) await followEvents(api, id, before, message.id);
    });

  serverOption(sessions.command('events'))
    .argument('<id>', 'session id')
    .option('--after <seq>', 'replay events after this sequence number', parseInteger('--after'), 0)
    .option('--no-follow', 'print stored events and exit')
    .description('print the event stream as JSON lines (replay, then live)')
    .action(async (id: string, flags: Server & { after: number; follow: boolean }) => {
      await clientFor(flags).readEvents(id, {
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
    .description('new session from a checkpoint; the original is untouched; prints its id')
    .action(async (id: string, flags: Server & { checkpoint?: string }) => {
      const fork = await clientFor(flags).forkSession(id, flags.checkpoint ? { checkpointId: flags.checkpoint } : {});
      process.stdout.write(`${fork.id}\n`);
    });

  serverOption(sessions.command('hibernate'))
    .argument('<id>', 'session id')
    .description('checkpoint an idle session and free its sandbox now (the next message wakes it)')
    .action(async (id: string, flags: Server) => {
      const session = await clientFor(flags).hibernateSession(id);
      process.stdout.write(`${session.id} ${session.status}\n`);
    });

  serverOption(sessions.command('interrupt'))
    .argument('<id>', 'session id')
    .description('stop the running turn (queued messages run afterwards)')
    .action(async (id: string, flags: Server) => {
      const answer = await clientFor(flags).interruptSession(id);
      process.stdout.write(answer.interrupted ? `${id}: turn interrupted\n` : `${id}: no turn was running\n`);
    });

  serverOption(sessions.command('rm'))
    .argument('<id>', 'session id')
    .description('close a session and free its sandbox')
    .action(async (id: string, flags: Server) => {
      const session = await clientFor(flags).closeSession(id);
      process.stdout.write(`${session.id} ${session.status}\n`);
    });

  serverOption(program.command('attach'))
    .argument('<id>', 'session id')
    .option('--after <seq>', 'start after this sequence number (default: everything)', parseInteger('--after'), 0)
    .description("follow a session live: the agent's messages and lifecycle events")
    .action(async (id: string, flags: Server & { after: number }) => {
      await followEvents(clientFor(flags), id, flags.after);
    });
}
