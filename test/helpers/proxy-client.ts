// Client side of the egress proxy tests: CONNECT through a proxy's unix socket, and whole answers.
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';

export interface TextAnswer {
  status: number;
  body: string;
}

/** Resolves with the status and whole body of the answer to `request` (ending it). */
export function textAnswer(request: ClientRequest): Promise<TextAnswer> {
  return new Promise((resolve, reject) => {
    request.once('response', (response: IncomingMessage) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.once('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.once('error', reject);
    request.end();
  });
}

/** Sends CONNECT through the proxy: the status and, for 200, the tunnel; for a refusal, its body. */
export function connectThrough(socketPath: string, target: string, auth?: string): Promise<TextAnswer & { socket?: Socket }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ socketPath, method: 'CONNECT', path: target, headers: auth === undefined ? {} : { 'proxy-authorization': auth } });
    // Node reports every answer to a CONNECT here; a refusal's body follows on the socket.
    request.once('connect', (response, socket, head) => {
      if (response.statusCode === 200) {
        resolve({ status: 200, body: '', socket });
        return;
      }
      let body = head.toString('utf8');
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (body += chunk));
      socket.once('close', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.once('error', reject);
    request.end();
  });
}

/** Proxy credentials for a session token. */
export const proxyAuth = (token: string): string => `Basic ${Buffer.from(`hangar:${token}`).toString('base64')}`;
