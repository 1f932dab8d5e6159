// The SNI of real ClientHellos, as Node's TLS client sends them, whole, split and truncated.
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { parseClientHello } from '../../src/egress/index.js';

/** The first bytes a TLS client sends to a loopback server that never answers. */
async function captureClientHello(options: { servername?: string; host?: string }): Promise<Buffer> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const received = new Promise<Buffer>((resolve) => {
    server.once('connection', (socket) => {
      let data = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        if (parseClientHello(data).state !== 'incomplete') {
          resolve(data);
          socket.destroy();
        }
      });
    });
  });
  const client = tlsConnect({
    host: options.host ?? '127.0.0.1',
    port,
    ...(options.servername !== undefined ? { servername: options.servername } : {}),
    rejectUnauthorized: false,
  });
  client.on('error', () => undefined);
  try {
    return await received;
  } finally {
    client.destroy();
    server.close();
  }
}

describe('ClientHello parser', () => {
  it('reads the server name of a real ClientHello', async () => {
    const hello = await captureClientHello({ servername: 'registry.npmjs.org' });
    expect(parseClientHello(hello)).toEqual({ state: 'complete', serverName: 'registry.npmjs.org' });
  });

  it('finds no server name when the client connects by address', async () => {
    const hello = await captureClientHello({});
    expect(parseClientHello(hello)).toEqual({ state: 'complete' });
  });

  it('waits for the rest of a split ClientHello, also across records', async () => {
    const hello = await captureClientHello({ servername: 'example.com' });
    for (const cut of [1, 4, 5, 9, 43, hello.length - 1]) expect(parseClientHello(hello.subarray(0, cut)), `cut at ${cut}`).toEqual({ state: 'incomplete' });
    // The same handshake split into two TLS records.
    const payload = hello.subarray(5);
    const record = (part: Buffer): Buffer => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, part.length >> 8, part.length & 0xff]), part]);
    const split = Buffer.concat([record(payload.subarray(0, 50)), record(payload.subarray(50))]);
    expect(parseClientHello(split)).toEqual({ state: 'complete', serverName: 'example.com' });
  });

  it('tells plain protocols and malformed handshakes apart', async () => {
    expect(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n'))).toEqual({ state: 'not-tls' });
    expect(parseClientHello(Buffer.from('SSH-2.0-OpenSSH\r\n'))).toEqual({ state: 'not-tls' });
    const hello = await captureClientHello({ servername: 'example.com' });
    const serverHello = Buffer.from(hello);
    serverHello[5] = 0x02;
    expect(parseClientHello(serverHello)).toMatchObject({ state: 'invalid' });
    // A handshake length the record cannot hold: declared larger than the proxy ever buffers.
    const huge = Buffer.from(hello);
    huge.writeUIntBE(0xffffff, 6, 3);
    expect(parseClientHello(huge)).toMatchObject({ state: 'invalid', reason: expect.stringContaining('over') });
    // Extensions cut short inside a complete handshake message.
    const cut = Buffer.from(hello);
    cut.writeUIntBE(hello.length - 5 - 4 - 10, 6, 3);
    expect(parseClientHello(cut).state).toBe('invalid');
  });
});
