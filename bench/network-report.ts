// The network bench's results as BENCHMARKS.md's network section and as one line for the console.
import os from 'node:os';
import type { NetworkBench } from './network-bench.js';

/** The heading that starts the network section in BENCHMARKS.md. */
export const NETWORK_HEADING = '## Network: egress proxy and model gateway';

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

const p50 = (values: number[]): number => percentile(values, 50);
const fixed = (value: number, digits: number): string => value.toFixed(digits);
const ratio = (through: number[], straight: number[]): string => `${fixed(p50(through) / p50(straight), 2)}x`;
const added = (through: number[], straight: number[]): string => `+${fixed(p50(through) - p50(straight), 2)} ms`;

/** One table row comparing a path through Hangar with the direct one (p50 of each). */
function row(name: string, through: number[], straight: number[], unit: 'MB/s' | 'ms', target = ''): string {
  const digits = unit === 'MB/s' ? 0 : 2;
  const compared = unit === 'MB/s' ? ratio(through, straight) : added(through, straight);
  return `| ${name} | ${fixed(p50(through), digits)} ${unit} | ${fixed(p50(straight), digits)} ${unit} | **${compared}** | ${target} |`;
}

export function networkSummary(network: NetworkBench): string {
  const sandbox =
    'skipped' in network.sandbox ? 'sandbox path skipped' : `curl in a sandbox ${ratio(network.sandbox.tunnelledMBps, network.sandbox.directMBps)}`;
  return (
    `${'skipped' in network.link ? '' : `tunnel over ${network.link.rate} ${ratio(network.link.tunnelledMBps, network.link.directMBps)}, `}tunnel on loopback ${ratio(network.tunnelledMBps, network.directMBps)}, plain ${ratio(network.proxiedMBps, network.directMBps)}, ${sandbox}; ` +
    `connection ${added(network.tunnelConnectMs, network.directConnectMs)}; gateway ${added(network.gatewayCallMs, network.directCallMs)}`
  );
}

export function networkSection(network: NetworkBench): string {
  const mib = network.downloadBytes / 1024 / 1024;
  const connections = network.directConnectMs.length;
  const sandboxRows =
    'skipped' in network.sandbox
      ? [`| download, curl in a sandbox through its bridge | not measured: ${network.sandbox.skipped} | | | |`]
      : [
          row('download through a CONNECT tunnel, curl in a sandbox (bridge + proxy)', network.sandbox.tunnelledMBps, network.sandbox.directMBps, 'MB/s'),
          row('new connection, small answer, curl in a sandbox (bridge + CONNECT)', network.sandbox.tunnelConnectMs, network.sandbox.directConnectMs, 'ms'),
        ];
  const linkRow =
    'skipped' in network.link
      ? `| download through a CONNECT tunnel over a shaped link | not measured: ${network.link.skipped} | | | |`
      : row(
          `download through a CONNECT tunnel over a ${network.link.rate} link (proxy alone, ${network.link.downloadBytes / 1024 / 1024} MiB)`,
          network.link.tunnelledMBps,
          network.link.directMBps,
          'MB/s',
          '≥ 0.9x',
        );
  return `${NETWORK_HEADING}

Side by side in one run, interleaved, on loopback (${os.cpus().length} cores). The file server and the download client are
processes of their own; the egress proxy runs in the bench's process, as it does in Hangar's, and is
charged with its own CPU only. A ${mib} MiB download, ${network.runs} runs of each path:
- **proxy alone**: a Node client process sends to the proxy's unix socket, through a CONNECT tunnel
  (request and answer as raw bytes, as TLS would carry them) and as a plain \`http://\` request,
  against the same client straight to the server;
- **for scale**: the same client through socat relaying bytes to the server in the proxy's place
  (a byte relay in C, 256 KiB buffers, as in the bridges): what any relay costs here;
- **over a link of a network's speed**: the file server in a network namespace the bench makes,
  behind a veth pair whose namespace side is shaped to 1 Gbit/s (tc tbf), through a tunnel and
  straight: what a download from a real mirror sees, where the link and not the CPU is the limit;
- **the sandbox's path**: curl inside a local sandbox reaches the proxy as an agent does (loopback
  port 4101, the socat bridge, the proxy's unix socket, a CONNECT tunnel), against the same curl on
  the host straight to the server (curl times itself, so its start is not counted).

New connection: the whole small answer on a new connection (${connections} per path); the model call: one small
non-streaming call through the gateway and straight to the scripted model (${network.gatewayCallMs.length} runs, in the bench's process, in a phase of their own before the downloads).

| measure | through Hangar (p50) | direct (p50) | ratio / added | target |
| --- | --- | --- | --- | --- |
${linkRow}
${row('download through a CONNECT tunnel on loopback (proxy alone)', network.tunnelledMBps, network.directMBps, 'MB/s', 'CPU-bound: see below')}
${row('download as a plain http:// request (proxy alone)', network.proxiedMBps, network.directMBps, 'MB/s')}
${network.socatRelayMBps.length > 0 ? row("download through socat in the proxy's place (for scale)", network.socatRelayMBps, network.directMBps, 'MB/s') : "| download through socat in the proxy's place | not measured: socat is not installed | | | |"}
${sandboxRows[0]}
${row('new connection, small answer, CONNECT tunnel (proxy alone)', network.tunnelConnectMs, network.directConnectMs, 'ms')}
${row('new connection, small answer, plain http:// (proxy alone)', network.proxiedConnectMs, network.directConnectMs, 'ms')}
${sandboxRows.slice(1).join('\n')}${sandboxRows.length > 1 ? '\n' : ''}${row('model call through the gateway', network.gatewayCallMs, network.directCallMs, 'ms', '≤ 1 ms added')}

The proxy's own CPU per GiB relayed (p50): ${fixed(p50(network.tunnelCpuMsPerGiB), 0)} ms through a tunnel, ${fixed(p50(network.proxiedCpuMsPerGiB), 0)} ms as plain \`http://\`.

On loopback the direct download is itself bound by the CPU (the kernel copying bytes between two
processes, one per core); a relay copies every byte twice more, in a third process on the same
cores, so no relay reaches the direct rate here (socat's row), and the sandbox's path has two
relays (the bridge and the proxy). A network link is slower than loopback: at the CPU per GiB
above, relaying a 1 Gbit/s download (119 MiB/s) takes ${fixed((p50(network.tunnelCpuMsPerGiB) * (119 / 1024)) / 10, 0)}% of one core through a tunnel. The shaped link's
row is that case measured: there the link, not the proxy, sets the rate.
`;
}
