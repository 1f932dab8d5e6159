// The start of a launch script inside a sandbox with bridges (pure): it starts one socat per bridge,
// listening on a loopback port and forwarding to the bridge's unix socket bound in from the host, and
// waits until each one listens. The launch script then execs the command.
import type { SandboxBridge } from '../../../sandbox-provider.js';
import { shellQuote } from '../../../host-shell.js';
import type { HostTools } from '../host/host-tools.js';
import { bridgeSocketPath } from './bwrap-args.js';

export type BridgeTools = Pick<HostTools, 'bash' | 'ss' | 'socat' | 'sleep' | 'cat'>;

/**
 * The prelude's lines. With bash, each port is probed with bash's own /dev/tcp connect (no process
 * per probe, ~30 us per attempt) until socat accepts; a probe that succeeds is one empty connection
 * to the bridged socket. Without bash, listening sockets are read with `ss` (netlink, ~1 ms) when
 * installed, else from /proc/net/tcp (which walks the whole TCP hash table: ~5 ms on a large host).
 */
export function bridgePrelude(tools: BridgeTools, bridges: readonly SandboxBridge[]): string[] {
  const lines = bridges.map(
    (bridge) =>
      `${shellQuote(tools.socat)} -b 262144 TCP-LISTEN:${bridge.port},bind=127.0.0.1,fork,reuseaddr ${shellQuote(`UNIX-CONNECT:${bridgeSocketPath(bridge)}`)} </dev/null >/dev/null &`,
  );
  if (tools.bash !== undefined) {
    lines.push(
      '__hangar_n=0',
      `for __hangar_port in ${bridges.map((bridge) => bridge.port).join(' ')}; do`,
      '  until true 2>/dev/null 9<>"/dev/tcp/127.0.0.1/$__hangar_port"; do',
      '    __hangar_n=$((__hangar_n + 1))',
      `    if [ "$__hangar_n" -ge 300000 ]; then echo 'hangar: sandbox bridges did not start listening' >&2; exit 125; fi`,
      '  done',
      'done',
      'unset __hangar_n __hangar_port',
    );
    return lines;
  }
  const { ss } = tools;
  const listening = bridges.map((bridge) =>
    shellQuote(ss !== undefined ? `127.0.0.1:${bridge.port} ` : `: 0100007F:${bridge.port.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A `),
  );
  lines.push(
    '__hangar_ready() {',
    ss !== undefined
      ? `  __hangar_out=$(${shellQuote(ss)} -Hltn 2>/dev/null) || return 1`
      : `  __hangar_out=$(${shellQuote(tools.cat)} /proc/net/tcp) || return 1`,
    `  for __hangar_w in ${listening.join(' ')}; do`,
    '    case "$__hangar_out" in *"$__hangar_w"*) ;; *) return 1 ;; esac',
    '  done',
    '}',
    '__hangar_n=0',
    'until __hangar_ready; do',
    '  __hangar_n=$((__hangar_n + 1))',
    `  if [ "$__hangar_n" -ge 3000 ]; then echo 'hangar: sandbox bridges did not start listening' >&2; exit 125; fi`,
    `  ${shellQuote(tools.sleep)} 0.001`,
    'done',
    'unset __hangar_n __hangar_w __hangar_out',
  );
  return lines;
}
