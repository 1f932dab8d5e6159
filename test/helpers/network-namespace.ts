// A network namespace a test creates, joined to the host by a veth pair: the only non-loopback
// place tests may reach. Its servers run inside it (ip netns exec); the host side has the first
// address of a /30, the namespace the second.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';

export interface NetworkNamespace {
  name: string;
  /** The namespace's address, reachable from the host. */
  address: string;
  /** The host's address on the veth pair. */
  hostAddress: string;
  /** Shapes what leaves the namespace (its downloads, seen from the host) to `rate` (tc's form: "1gbit"). */
  limitRate(rate: string): void;
  /** Starts `node <args>` inside the namespace; ended by remove(). */
  runNode(args: string[], env?: Record<string, string>): ChildProcess;
  /** Ends the processes it started (by pid) and deletes the namespace and its veth pair. */
  remove(): void;
}

export function createNetworkNamespace(): NetworkNamespace {
  const suffix = randomBytes(3).toString('hex');
  const name = `hangar-test-${suffix}`;
  const hostLink = `hgt${suffix}a`;
  const innerLink = `hgt${suffix}b`;
  // 10.254.x.y/30 with a random block, so files running at once rarely meet.
  const block = randomInt(0, 16384) * 4;
  const base = `10.254.${Math.floor(block / 256)}.`;
  const hostAddress = `${base}${(block % 256) + 1}`;
  const address = `${base}${(block % 256) + 2}`;
  const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: 'pipe' });
  ip('netns', 'add', name);
  const children: ChildProcess[] = [];
  try {
    ip('link', 'add', hostLink, 'type', 'veth', 'peer', 'name', innerLink);
    ip('link', 'set', innerLink, 'netns', name);
    ip('addr', 'add', `${hostAddress}/30`, 'dev', hostLink);
    ip('link', 'set', hostLink, 'up');
    ip('netns', 'exec', name, 'ip', 'addr', 'add', `${address}/30`, 'dev', innerLink);
    ip('netns', 'exec', name, 'ip', 'link', 'set', innerLink, 'up');
    ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  } catch (error) {
    ip('netns', 'del', name);
    throw error;
  }
  return {
    name,
    address,
    hostAddress,
    limitRate(rate) {
      ip('netns', 'exec', name, 'tc', 'qdisc', 'add', 'dev', innerLink, 'root', 'tbf', 'rate', rate, 'burst', '512kb', 'latency', '20ms');
    },
    runNode(args, env = {}) {
      const child = spawn('ip', ['netns', 'exec', name, process.execPath, ...args], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      return child;
    },
    remove() {
      for (const child of children) if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL');
      try {
        ip('netns', 'del', name);
      } catch {
        // Already gone.
      }
    },
  };
}
