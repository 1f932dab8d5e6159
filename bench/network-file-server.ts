// Child process of the network bench: an HTTP server on a port of `host` (argv[3], default loopback)
// that answers GET /large with `size` bytes (argv[2]) written in 1 MiB chunks, and anything else
// with "ok". It prints its port as one JSON line on stdout and serves until killed or until its
// stdin closes (its parent is gone).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const size = Number(process.argv[2]);
const chunk = Buffer.alloc(1024 * 1024, 7);

const server = createServer((request, response) => {
  if (request.url !== '/large') {
    response.end('ok');
    return;
  }
  response.writeHead(200, { 'content-length': size });
  let sent = 0;
  const pump = (): void => {
    while (sent < size) {
      const part = Math.min(chunk.length, size - sent);
      sent += part;
      if (!response.write(part === chunk.length ? chunk : chunk.subarray(0, part))) return void response.once('drain', pump);
    }
    response.end();
  };
  pump();
});
server.listen(0, process.argv[3] ?? '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.stdin.resume();
process.stdin.once('end', () => process.exit(0));
