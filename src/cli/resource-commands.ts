// `hangar schedules ...`, `hangar checkpoints ls` and `hangar sandboxes ...`: a running server's
// scheduled prompts, session checkpoints and shared sandboxes.
import type { Command } from 'commander';
import type { SandboxView } from '../client/hangar-client.js';
import {
  clientFor,
  jsonOption,
  parseInteger,
  printFields,
  printJson,
  resourceOptions,
  resourcesFromFlags,
  serverOption,
  type ResourceFlags,
} from './cli-options.js';

interface Server {
  server: string;
  json?: boolean;
}

function sandboxLine(sandbox: SandboxView): string {
  const sessions = sandbox.sessions === undefined ? '' : `  sessions ${sandbox.sessions.length === 0 ? '-' : sandbox.sessions.join(',')}`;
  return `${sandbox.id}  ${sandbox.status.padEnd(7)} ${sandbox.createdAt}  ${JSON.stringify(sandbox.resources)}${sessions}`;
}

export function registerResourceCommands(program: Command): void {
  const schedules = program.command('schedules').description('prompts sent to a session on a schedule');

  jsonOption(serverOption(schedules.command('add')))
    .argument('<session>', 'session id')
    .argument('<prompt>', 'the message to send each time')
    .option('--every <interval>', 'interval: 30s, 5m, 2h, 1d')
    .option('--cron <expression>', 'five-field cron expression (quote it)')
    .description('send a prompt on a schedule (never overlapping a running turn); prints the schedule id')
    .action(async (session: string, prompt: string, flags: Server & { every?: string; cron?: string }) => {
      const schedule = await clientFor(flags).addSchedule(session, {
        prompt,
        ...(flags.every ? { every: flags.every } : {}),
        ...(flags.cron ? { cron: flags.cron } : {}),
      });
      if (flags.json) printJson(schedule);
      else process.stdout.write(`${schedule.id}\n`);
    });

  jsonOption(serverOption(schedules.command('ls')))
    .argument('<session>', 'session id')
    .description("list a session's schedules")
    .action(async (session: string, flags: Server) => {
      const list = await clientFor(flags).listSchedules(session);
      if (flags.json) return printJson(list);
      for (const schedule of list) {
        process.stdout.write(
          `${schedule.id}  ${(schedule.every ?? schedule.cron ?? '').padEnd(12)} next ${schedule.nextRunAt ?? '-'}  ${schedule.prompt.replace(/\s+/g, ' ').slice(0, 60)}\n`,
        );
      }
      if (list.length === 0) process.stdout.write('no schedules\n');
    });

  serverOption(schedules.command('rm'))
    .argument('<session>', 'session id')
    .argument('<schedule>', 'schedule id')
    .description('remove a schedule')
    .action(async (session: string, schedule: string, flags: Server) => {
      await clientFor(flags).removeSchedule(session, schedule);
      process.stdout.write(`${schedule} removed\n`);
    });

  const checkpoints = program.command('checkpoints').description('checkpoints of a session (workspace, HOME and transcript position)');
  jsonOption(serverOption(checkpoints.command('ls')))
    .argument('<session>', 'session id')
    .option('--limit <n>', 'how many', parseInteger('--limit'), 50)
    .description("list a session's checkpoints, newest first (fork one with `hangar sessions fork <id> --checkpoint <cp>`)")
    .action(async (session: string, flags: Server & { limit: number }) => {
      const list = await clientFor(flags).listCheckpoints(session, flags.limit);
      if (flags.json) return printJson(list);
      for (const checkpoint of list) {
        process.stdout.write(
          `${checkpoint.id}  turn ${String(checkpoint.turn).padStart(3)}  ${String(checkpoint.sizeBytes).padStart(10)} bytes  ${checkpoint.createdAt}\n`,
        );
      }
      if (list.length === 0) process.stdout.write('no checkpoints\n');
    });

  const sandboxes = program.command('sandboxes').description('sandboxes shared by several sessions');

  resourceOptions(jsonOption(serverOption(sandboxes.command('new'))))
    .description('create a shared sandbox; prints its id (sessions join it with `hangar sessions new --sandbox <id>`)')
    .action(async (flags: Server & ResourceFlags) => {
      const resources = resourcesFromFlags(flags);
      const sandbox = await clientFor(flags).createSandbox(resources === undefined ? {} : { resources });
      if (flags.json) printJson(sandbox);
      else process.stdout.write(`${sandbox.id}\n`);
    });

  jsonOption(serverOption(sandboxes.command('ls')))
    .option('--all', 'closed ones too (default: active only)')
    .description('list shared sandboxes, oldest first')
    .action(async (flags: Server & { all?: boolean }) => {
      const list = await clientFor(flags).listSandboxes(flags.all ? {} : { status: 'active' });
      if (flags.json) return printJson(list);
      for (const sandbox of list) process.stdout.write(`${sandboxLine(sandbox)}\n`);
      if (list.length === 0) process.stdout.write('no sandboxes\n');
    });

  jsonOption(serverOption(sandboxes.command('show')))
    .argument('<id>', 'sandbox id')
    .description('show one shared sandbox and its sessions')
    .action(async (id: string, flags: Server) => {
      const sandbox = await clientFor(flags).getSandbox(id);
      if (flags.json) printJson(sandbox);
      else printFields(sandbox, ['id', 'status', 'resources', 'sessions', 'createdAt', 'closedAt']);
    });

  serverOption(sandboxes.command('rm'))
    .argument('<id>', 'sandbox id')
    .description('close a shared sandbox and every session in it')
    .action(async (id: string, flags: Server) => {
      const sandbox = await clientFor(flags).closeSandbox(id);
      process.stdout.write(`${sandbox.id} ${sandbox.status}\n`);
    });
}
