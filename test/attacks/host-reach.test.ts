// Attack: a real agent reaches for the host from inside the real sandbox, through its Bash tool. The
// test starts a host process holding a secret in its environment and another in its argv, and hands
// the agent its pid: the agent reads its /proc files, searches every /proc entry it sees for the
// secrets, kills it (kill -9, a pidfd), ptraces it (ptrace, gdb, strace) and reads its memory. It
// connects to every host loopback port that matters (Hangar's API, the scripted model server and its
// control endpoint, a listener of the test's on 127.0.0.1 and one on every address), to the host's
// own addresses, through the egress proxy to the same, to an abstract unix socket and a filesystem
// unix socket the test listens on, and to well-known host sockets. And it uses the model gateway it is
// given for other routes (Hangar's API paths, the model server's control path, path tricks, other
// methods, an absolute-form request naming Hangar's API), and for /v1/messages without a token, with
// a wrong one or with the proxy's credentials. Every attempt must fail; the host process lives on
// untouched; no listener of the test saw a connection; Hangar's API saw only the test's own request;
// the upstream saw only the CLI's own model calls.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView } from '../../src/client/hangar-client.js';
import { attemptsScript, checkOutput, python, rebuilt, runAgentTask, startSecretHolder, type SecretHolder } from '../helpers/attack-agent.js';
import { startHarness, type Harness } from '../helpers/hangar-harness.js';

/** A TCP or unix listener that counts the connections it accepted. */
interface Listener {
  server: net.Server;
  accepted: number;
}

async function listen(target: { port: 0; host: string } | { path: string }): Promise<Listener> {
  const listener: Listener = { server: net.createServer(), accepted: 0 };
  listener.server.on('connection', (socket) => {
    listener.accepted += 1;
    socket.end('host service\n');
  });
  await new Promise<void>((resolve, reject) => {
    listener.server.once('error', reject);
    listener.server.listen(target, () => resolve());
  });
  return listener;
}

const portOf = (listener: Listener): number => (listener.server.address() as AddressInfo).port;

/** The host's addresses other than loopback (IPv4 and global IPv6). */
const hostAddresses = (): string[] =>
  Object.values(os.networkInterfaces())
    .flat()
    .filter((entry) => entry !== undefined && !entry.internal && !(entry.family === 'IPv6' && entry.address.startsWith('fe80')))
    .map((entry) => entry!.address);

/** Routes of the gateway other than the two it forwards: method, path, curl options. */
const OTHER_ROUTES: Array<[name: string, method: string, target: string]> = [
  ['gw_tasks', 'GET', '/v1/tasks'],
  ['gw_create_task', 'POST', '/v1/tasks'],
  ['gw_keys', 'GET', '/v1/keys'],
  ['gw_create_key', 'POST', '/v1/keys'],
  ['gw_sessions', 'GET', '/v1/sessions'],
  ['gw_sandboxes', 'GET', '/v1/sandboxes'],
  ['gw_healthz', 'GET', '/healthz'],
  ['gw_models', 'GET', '/v1/models'],
  ['gw_scripted_control', 'POST', '/_scripted/scenario'],
  ['gw_get_messages', 'GET', '/v1/messages'],
  ['gw_dotdot', 'POST', '/v1/messages/../tasks'],
  ['gw_encoded_dotdot', 'POST', '/v1/messages/..%2f..%2fv1%2ftasks'],
  ['gw_double_slash', 'GET', '//v1/tasks'],
  ['gw_upper_case', 'POST', '/V1/MESSAGES'],
];

describe('attack: host processes, host ports and sockets, and the gateway for other routes, by a real agent', () => {
  let harness: Harness;
  let holder: SecretHolder;
  let loopbackListener: Listener;
  let everyAddressListener: Listener;
  let abstractListener: Listener;
  let fileSocketListener: Listener;
  let fileSocketPath: string;
  const abstractName = `hangar-attack-${randomBytes(6).toString('hex')}`;
  const apiRequests: string[] = [];
  const bodyMarker = `gw-attack-${randomBytes(6).toString('hex')}`;
  let task: TaskView;
  let report: string;
  let addresses: string[];

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [] } });
    holder = startSecretHolder();
    loopbackListener = await listen({ port: 0, host: '127.0.0.1' });
    everyAddressListener = await listen({ port: 0, host: '::' });
    abstractListener = await listen({ path: `\0${abstractName}` });
    fileSocketPath = path.join(os.tmpdir(), `${abstractName}.sock`);
    fileSocketListener = await listen({ path: fileSocketPath });
    (harness.hangar.app.server as http.Server).on('request', (request: http.IncomingMessage) => apiRequests.push(`${request.method} ${request.url}`));
    addresses = hostAddresses();
    const apiPort = new URL(harness.baseUrl).port;
    const modelPort = new URL(harness.model.url).port;
    const pid = holder.pid;
    const tcp = (host: string, port: number | string): string =>
      `timeout 5 bash -c 'exec 3<>/dev/tcp/${host}/${port}' 2>/dev/null && echo "CONNECTED ${host}:${port}" || echo "refused ${host}:${port}"`;

    const hostProbes: Array<[string, string]> = [
      ['host_proc_files', `cat /proc/${pid}/environ; cat /proc/${pid}/cmdline; ls /proc/${pid}/ 2>&1 | head -1; head -c 16 /proc/${pid}/mem`],
      [
        'host_proc_search',
        // The patterns come from a builtin's output, so no process's argv holds them.
        `grep -lsaF -f <(printf "%s\\n" ${rebuilt(holder.envSecret)} ${rebuilt(holder.argvSecret)}) /proc/[0-9]*/environ /proc/[0-9]*/cmdline /proc/[0-9]*/task/*/environ | wc -l; ` +
          // Control: the same search finds the sandbox's own session token.
          'grep -lsaF -f <(printf "%s\\n" "$ANTHROPIC_API_KEY") /proc/[0-9]*/environ | wc -l; echo /proc/[0-9]* | wc -w',
      ],
      ['host_kill', `kill -9 ${pid}; echo "exit=$?"; kill -STOP ${pid}; kill -0 ${pid}; echo "exit=$?"`],
      [
        'host_kill_python',
        python(
          `import os\ntry:\n    os.kill(${pid}, 9); print('KILLED')\nexcept OSError as e:\n    print('refused', e.strerror)\ntry:\n    os.pidfd_open(${pid}); print('PIDFD')\nexcept OSError as e:\n    print('refused', e.strerror)`,
        ),
      ],
      [
        'host_ptrace',
        python(
          `import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nr = libc.ptrace(16, ${pid}, 0, 0)\nprint('ptrace', r, os.strerror(ctypes.get_errno()))\nr = libc.syscall(310, ${pid}, 0, 0, 0, 0, 0)\nprint('process_vm_readv', r, os.strerror(ctypes.get_errno()))`,
        ) +
          `\ntimeout 20 gdb -batch -p ${pid} -ex "info registers rip" 2>&1 | grep -iE "ptrace|No such|attach|rip" | head -2; timeout 10 strace -p ${pid} 2>&1 | head -1`,
      ],
      [
        'api_port',
        `${tcp('127.0.0.1', apiPort)}; curl -sS -m 5 --noproxy "*" http://127.0.0.1:${apiPort}/healthz; curl -sS -m 5 --noproxy "*" "http://[::1]:${apiPort}/healthz"`,
      ],
      ['model_port', `${tcp('127.0.0.1', modelPort)}; curl -sS -m 5 --noproxy "*" -X POST -d "{}" http://localhost:${modelPort}/_scripted/scenario`],
      [
        'loopback_listener',
        `${tcp('127.0.0.1', portOf(loopbackListener))}; ${tcp('127.0.0.1', portOf(everyAddressListener))}; ${tcp('0.0.0.0', portOf(everyAddressListener))}`,
      ],
      [
        'host_addresses',
        addresses
          .map((address) => `curl -sS -m 5 --noproxy "*" "http://${address.includes(':') ? `[${address}]` : address}:${portOf(everyAddressListener)}/"`)
          .join('; ') + '; echo addresses-done',
      ],
      [
        'via_proxy',
        [
          `http://127.0.0.1:${apiPort}/v1/tasks`,
          `http://localhost:${modelPort}/_scripted/scenario`,
          `http://[::1]:${portOf(everyAddressListener)}/`,
          ...addresses.map((address) => `http://${address.includes(':') ? `[${address}]` : address}:${portOf(everyAddressListener)}/`),
        ]
          .map((url) => `curl -sS -m 10 -o /dev/null -w "%{http_code} " -x "$HTTP_PROXY" --noproxy "" "${url}"`)
          .join('; ') + `; curl -sS -m 10 -p -x "$HTTP_PROXY" --noproxy "" http://127.0.0.1:${apiPort}/healthz 2>&1 | head -c 120`,
      ],
      [
        'abstract_socket',
        python(
          `import socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect('\\0${abstractName}'); print('CONNECTED', s.recv(64))\nexcept OSError as e:\n    print('refused', e.strerror)`,
        ) + `\ngrep -c ${abstractName} /proc/net/unix; timeout 5 socat -u ABSTRACT-CONNECT:${abstractName} - 2>&1 | head -c 100`,
      ],
      [
        'host_unix_sockets',
        [fileSocketPath, '/var/run/docker.sock', '/run/containerd/containerd.sock', '/run/dbus/system_bus_socket', '/run/systemd/private', '/tmp/.X11-unix/X0']
          .map((socketPath) => `curl -sS -m 5 --unix-socket ${socketPath} http://host/ 2>&1 | head -c 80; echo`)
          .join('; '),
      ],
    ];

    const gateway = (extra: string, method: string, target: string): string =>
      `curl -sS -m 10 --path-as-is -X ${method} ${extra} -H "content-type: application/json" -d "{\\"model\\":\\"claude-sonnet-4-5\\",\\"max_tokens\\":8,\\"messages\\":[{\\"role\\":\\"user\\",\\"content\\":\\"$MARK\\"}]}" -w " %{http_code}" "$ANTHROPIC_BASE_URL${target}"`;
    const withToken = '-H "x-api-key: $ANTHROPIC_API_KEY"';
    const gatewayProbes: Array<[string, string]> = [
      ...OTHER_ROUTES.map(([name, method, target]): [string, string] => [name, gateway(withToken, method, target)]),
      ['gw_absolute_form', `curl -sS -m 10 -x "$ANTHROPIC_BASE_URL" --noproxy "" ${withToken} -w " %{http_code}" http://127.0.0.1:${apiPort}/v1/tasks`],
      ['gw_unix_socket_route', `curl -sS -m 10 --unix-socket /run/hangar/model-gateway.sock ${withToken} -w " %{http_code}" http://gateway/v1/keys`],
      ['gw_no_token', gateway('', 'POST', '/v1/messages')],
      ['gw_no_token_unix_socket', `curl -sS -m 10 --unix-socket /run/hangar/model-gateway.sock -X POST -d "{}" -w " %{http_code}" http://gateway/v1/messages`],
      ['gw_wrong_token', gateway('-H "x-api-key: hgr-guessed-token-0000000000000000000000000"', 'POST', '/v1/messages')],
      ['gw_bearer_wrong_token', gateway('-H "authorization: Bearer sk-ant-api03-guessed"', 'POST', '/v1/messages')],
      ['gw_proxy_credentials', gateway('-H "x-api-key: $(echo "$HTTP_PROXY" | sed -E "s|.*:([^@]*)@.*|\\1|")"', 'POST', '/v1/messages')],
      ['gw_token_in_query', gateway('', 'POST', '/v1/messages?key=$ANTHROPIC_API_KEY')],
      ['gw_no_token_other_route', gateway('', 'GET', '/v1/tasks')],
      ['proxy_to_api_no_credentials', `curl -sS -m 10 --unix-socket /run/hangar/egress-proxy.sock -w " %{http_code}" http://127.0.0.1:${apiPort}/v1/tasks`],
    ];
    const run = await runAgentTask(harness, [attemptsScript(hostProbes), `export MARK=${rebuilt(bodyMarker)}\n${attemptsScript(gatewayProbes)}`]);
    task = run.task;
    report = run.results.join('\n');
  }, 240_000);

  afterAll(async () => {
    holder?.stop();
    for (const listener of [loopbackListener, everyAddressListener, abstractListener, fileSocketListener]) listener?.server.close();
    if (fileSocketPath !== undefined) rmSync(fileSocketPath, { force: true });
    await harness?.close();
  });

  const output = (name: string): string => checkOutput(report, name);

  it('ran every attempt and the task finished', () => {
    expect(task.error).toBeNull();
    expect(task.status).toBe('succeeded');
    expect(task.result).toBe('done');
  });

  it("cannot see a host process's environment, argv or memory, from its pid or by searching /proc", () => {
    expect(output('host_proc_files')).not.toContain(holder.envSecret);
    expect(output('host_proc_files')).not.toContain(holder.argvSecret);
    expect(output('host_proc_files').match(/No such file or directory/g)?.length).toBe(4);
    // No /proc entry holds either secret, though the same search finds the sandbox's own token.
    const [matches, controls, processes] = output('host_proc_search').split(/\s+/).map(Number);
    expect(matches).toBe(0);
    expect(controls).toBeGreaterThan(1);
    expect(processes).toBeGreaterThan(2);
    expect(report).not.toContain(holder.envSecret);
    expect(report).not.toContain(holder.argvSecret);
  });

  it('cannot kill, stop, signal, ptrace or read the memory of a host process; it lives on unchanged', () => {
    expect(output('host_kill')).toMatch(/No such process.*exit=1.*No such process.*exit=1/);
    expect(output('host_kill_python')).toBe('refused No such process refused No such process');
    expect(output('host_ptrace')).toMatch(/^ptrace -1 Operation not permitted process_vm_readv -1 Operation not permitted /);
    expect(output('host_ptrace')).not.toMatch(/\brip\s+0x/);
    expect(output('host_ptrace')).toMatch(/No such process|Operation not permitted|ptrace/);
    expect(holder.alive()).toBe(true);
    expect(holder.child.exitCode).toBeNull();
  });

  it("cannot reach Hangar's API, the model server or any host listener: not on loopback, not on the host's addresses, not through the proxy", () => {
    expect(output('api_port')).toMatch(/^refused 127\.0\.0\.1:\d+ curl: \(7\) .*curl: \(7\)/);
    expect(output('model_port')).toMatch(/^refused 127\.0\.0\.1:\d+ curl: \(7\)/);
    expect(output('loopback_listener')).not.toContain('CONNECTED');
    expect(output('loopback_listener').match(/refused/g)).toHaveLength(3);
    expect(addresses.length).toBeGreaterThan(0);
    expect(output('host_addresses').match(/curl: \(7\)/g)).toHaveLength(addresses.length);
    // The egress proxy refuses loopback and the host's own addresses (no allowed hosts either).
    expect(output('via_proxy')).toMatch(new RegExp(`^(403 ){${3 + addresses.length}}`));
    expect(output('via_proxy')).toMatch(/CONNECT tunnel failed, response 403/);
    expect(output('proxy_to_api_no_credentials')).toMatch(/ 407$/);
    for (const listener of [loopbackListener, everyAddressListener]) expect(listener.accepted).toBe(0);
  });

  it('cannot connect to a host abstract unix socket or to host filesystem sockets', () => {
    expect(output('abstract_socket')).toMatch(/^refused Connection refused 0 /);
    expect(output('abstract_socket')).not.toContain('host service');
    expect(output('host_unix_sockets').match(/curl: \(7\)/g)).toHaveLength(6);
    expect(abstractListener.accepted).toBe(0);
    expect(fileSocketListener.accepted).toBe(0);
  });

  it('gets 404 from the gateway for every route but the model calls, and 401 without its own token', () => {
    for (const [name] of [...OTHER_ROUTES, ['gw_absolute_form'], ['gw_unix_socket_route']]) {
      expect(output(name!), name).toMatch(/"type":"not_found_error".* 404$/);
    }
    for (const name of [
      'gw_no_token',
      'gw_no_token_unix_socket',
      'gw_wrong_token',
      'gw_bearer_wrong_token',
      'gw_proxy_credentials',
      'gw_token_in_query',
      'gw_no_token_other_route',
    ]) {
      expect(output(name), name).toMatch(/"type":"authentication_error".* 401$/);
    }
    const refused = harness.hangar.gateway.stats().refused;
    expect(refused.route).toBeGreaterThanOrEqual(OTHER_ROUTES.length + 2);
    expect(refused.unauthenticated).toBeGreaterThanOrEqual(7);
  });

  it("Hangar's API saw only the test's request, and the upstream only the CLI's model calls", () => {
    expect(apiRequests).toEqual(['POST /v1/tasks']);
    expect(harness.model.requests.length).toBeGreaterThan(0);
    for (const request of harness.model.requests) {
      expect(request.path).toMatch(/^\/v1\/messages(\/count_tokens)?\?beta=true$/);
      expect(JSON.stringify(request.body ?? null)).not.toContain(bodyMarker);
    }
  });
});
