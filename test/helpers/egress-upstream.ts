// Upstream servers for egress tests, in a network namespace the test creates: HTTP on 8080 and
// HTTPS on 8443 with certificates for mirror.test and tunnel.test from a CA of their own (written
// to a file for egress.extraCaFile). Each request is recorded (scheme, Host, path, Authorization);
// /auth answers auth-ok when it carries `Bearer <expectedSecret>`.
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCertificateAuthority, generateCa } from '../../src/egress/index.js';
import { createNetworkNamespace, type NetworkNamespace } from './network-namespace.js';

const UPSTREAM = String.raw`
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
/** /static/<file> from STATIC_DIR; a path without an extension is served from <path>.json when there (npm packuments). */
const serveStatic = (request, response) => {
  const relative = path.normalize(decodeURIComponent(request.url.split('?')[0]).slice('/static/'.length));
  if (relative.startsWith('..') || path.isAbsolute(relative)) return response.writeHead(400).end();
  const file = path.join(process.env.STATIC_DIR, relative);
  const candidate = fs.existsSync(file) && fs.statSync(file).isFile() ? file : fs.existsSync(file + '.json') ? file + '.json' : undefined;
  if (candidate === undefined) return response.writeHead(404).end('not found');
  response.writeHead(200, { 'content-type': candidate.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
  fs.createReadStream(candidate).pipe(response);
};
const handle = (scheme) => (request, response) => {
  console.log(JSON.stringify({ scheme, host: request.headers.host, path: request.url, authorization: request.headers.authorization ?? null }));
  if (request.url.startsWith('/static/') && process.env.STATIC_DIR) serveStatic(request, response);
  else if (request.url === '/auth') response.end(request.headers.authorization === 'Bearer ' + process.env.EXPECTED ? 'auth-ok' : 'auth-bad');
  else response.end('hello-' + scheme);
};
let open = 0;
const ready = () => { if (++open === 2) console.log('ready'); };
http.createServer(handle('plain')).listen(8080, '0.0.0.0', ready);
const contexts = { 'mirror.test': tls.createSecureContext({ cert: process.env.CERT, key: process.env.KEY }), 'tunnel.test': tls.createSecureContext({ cert: process.env.TUNNEL_CERT, key: process.env.KEY }) };
https.createServer({ cert: process.env.CERT, key: process.env.KEY, SNICallback: (name, done) => done(null, contexts[name] ?? contexts['mirror.test']) }, handle('tls')).listen(8443, '0.0.0.0', ready);
`;

export interface SeenRequest {
  scheme: string;
  host: string | undefined;
  path: string;
  authorization: string | null;
}

export interface EgressUpstream {
  namespace: NetworkNamespace;
  /** PEM file of the upstream's CA (for egress.extraCaFile). */
  caFile: string;
  /** Requests the upstream received, in order. */
  seen: SeenRequest[];
  close(): void;
}

/** `staticDir`: files served under /static/ (a bare git repository for dumb-HTTP clones, an npm registry's files). */
export async function startEgressUpstream(expectedSecret: string, staticDir?: string): Promise<EgressUpstream> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hangar-egress-upstream-'));
  const namespace = createNetworkNamespace();
  try {
    const ca = await generateCa('Test mirror CA');
    const issuer = await createCertificateAuthority(ca);
    // Leaves of one CA share one key pair (certificate-authority.ts).
    const mirror = await issuer.leafFor('mirror.test');
    const tunnel = await issuer.leafFor('tunnel.test');
    const caFile = path.join(dir, 'mirror-ca.pem');
    writeFileSync(caFile, ca.certPem);
    const server = namespace.runNode(['--input-type=module', '-e', UPSTREAM], {
      CERT: mirror.certPem,
      TUNNEL_CERT: tunnel.certPem,
      KEY: mirror.keyPem,
      EXPECTED: expectedSecret,
      ...(staticDir !== undefined ? { STATIC_DIR: staticDir } : {}),
    });
    const seen: SeenRequest[] = [];
    let buffered = '';
    server.stdout!.setEncoding('utf8');
    const ready = new Promise<void>((resolve) => {
      server.stdout!.on('data', (chunk: string) => {
        buffered += chunk;
        for (let newline = buffered.indexOf('\n'); newline !== -1; newline = buffered.indexOf('\n')) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (line === 'ready') resolve();
          else if (line.startsWith('{')) seen.push(JSON.parse(line) as SeenRequest);
        }
      });
    });
    await Promise.race([ready, once(server, 'exit').then(() => Promise.reject(new Error('the upstream in the namespace exited')))]);
    return {
      namespace,
      caFile,
      seen,
      close() {
        namespace.remove();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    namespace.remove();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A bash script that runs each check and prints `name=<its output on one line>`. */
export function checksScript(checks: Array<[name: string, command: string]>): string {
  return [
    'set +e',
    'try() { local name=$1; shift; printf "%s=%s\\n" "$name" "$(bash --norc -c "$1" 2>&1 | tr "\\n" " ")"; }',
    ...checks.map(([name, command]) => `try ${name} ${JSON.stringify(command)}`),
  ].join('\n');
}

/** The output of check `name` in a report printed by checksScript(). */
export function checkOutput(report: string, name: string): string {
  return new RegExp(`^${name}=(.*)$`, 'm').exec(report)?.[1]?.trim() ?? `(no ${name} line in: ${report})`;
}
