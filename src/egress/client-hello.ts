// Reads the server name (SNI) from the first bytes a client sends through a CONNECT tunnel: a TLS
// ClientHello, which may span several TLS records. Pure: the proxy buffers at most
// MAX_CLIENT_HELLO_BYTES and calls this after each chunk until it answers something other than
// `incomplete`.

/** Most bytes of records the proxy buffers to find a whole ClientHello (post-quantum key shares make it ~1.8 KiB). */
export const MAX_CLIENT_HELLO_BYTES = 16 * 1024;

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXTENSION_SERVER_NAME = 0x0000;
const NAME_TYPE_HOST = 0x00;

export type ClientHelloResult =
  | { state: 'incomplete' }
  | { state: 'not-tls' }
  | { state: 'invalid'; reason: string }
  /** A whole ClientHello; serverName is absent when the client sent none (a connection by IP). */
  | { state: 'complete'; serverName?: string };

/** Joins the payloads of the leading handshake records; undefined while the first record header is incomplete. */
function handshakeBytes(data: Buffer): { payload: Buffer } | 'not-tls' | undefined {
  if (data.length < 1) return undefined;
  if (data[0] !== RECORD_HANDSHAKE) return 'not-tls';
  if (data.length < 5) return undefined;
  if (data[1] !== 0x03) return 'not-tls';
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 5 <= data.length && data[offset] === RECORD_HANDSHAKE) {
    const length = data.readUInt16BE(offset + 3);
    if (offset + 5 + length > data.length) {
      parts.push(data.subarray(offset + 5));
      return { payload: Buffer.concat(parts) };
    }
    parts.push(data.subarray(offset + 5, offset + 5 + length));
    offset += 5 + length;
  }
  return { payload: Buffer.concat(parts) };
}

/** Parses the ClientHello at the start of `data` (everything the client sent so far). */
export function parseClientHello(data: Buffer): ClientHelloResult {
  const handshake = handshakeBytes(data);
  if (handshake === 'not-tls') return { state: 'not-tls' };
  if (handshake === undefined || handshake.payload.length < 4) return { state: 'incomplete' };
  const { payload } = handshake;
  if (payload[0] !== HANDSHAKE_CLIENT_HELLO) return { state: 'invalid', reason: 'the first handshake message is not a ClientHello' };
  const length = payload.readUIntBE(1, 3);
  if (4 + length > MAX_CLIENT_HELLO_BYTES) return { state: 'invalid', reason: `ClientHello of ${length} bytes is over ${MAX_CLIENT_HELLO_BYTES}` };
  if (payload.length < 4 + length) return { state: 'incomplete' };
  return readServerName(payload.subarray(4, 4 + length));
}

/** Walks a ClientHello body to its server_name extension. */
function readServerName(body: Buffer): ClientHelloResult {
  const invalid = (reason: string): ClientHelloResult => ({ state: 'invalid', reason });
  // client_version (2) + random (32)
  let offset = 34;
  const skip = (lengthBytes: 1 | 2): boolean => {
    if (offset + lengthBytes > body.length) return false;
    const length = lengthBytes === 1 ? body[offset]! : body.readUInt16BE(offset);
    offset += lengthBytes + length;
    return offset <= body.length;
  };
  if (!skip(1)) return invalid('truncated session id');
  if (!skip(2)) return invalid('truncated cipher suites');
  if (!skip(1)) return invalid('truncated compression methods');
  if (offset === body.length) return { state: 'complete' };
  if (offset + 2 > body.length) return invalid('truncated extensions');
  const end = offset + 2 + body.readUInt16BE(offset);
  if (end > body.length) return invalid('truncated extensions');
  offset += 2;
  let serverName: string | undefined;
  while (offset + 4 <= end) {
    const type = body.readUInt16BE(offset);
    const length = body.readUInt16BE(offset + 2);
    const start = offset + 4;
    offset = start + length;
    if (offset > end) return invalid('truncated extension');
    if (type !== EXTENSION_SERVER_NAME) continue;
    if (serverName !== undefined) return invalid('two server_name extensions');
    const names = parseServerNameList(body.subarray(start, offset));
    if (typeof names !== 'string') return invalid(names.reason);
    serverName = names;
  }
  if (offset !== end) return invalid('truncated extension');
  return serverName === undefined ? { state: 'complete' } : { state: 'complete', serverName };
}

/** The one host_name of a server_name extension. */
function parseServerNameList(data: Buffer): string | { reason: string } {
  if (data.length < 2 || data.readUInt16BE(0) !== data.length - 2) return { reason: 'malformed server_name list' };
  let offset = 2;
  let host: string | undefined;
  while (offset + 3 <= data.length) {
    const type = data[offset]!;
    const length = data.readUInt16BE(offset + 1);
    const value = data.subarray(offset + 3, offset + 3 + length);
    offset += 3 + length;
    if (offset > data.length) return { reason: 'malformed server_name list' };
    if (type !== NAME_TYPE_HOST) continue;
    if (host !== undefined) return { reason: 'two host names in server_name' };
    // A host name is ASCII (IDNs travel as punycode).
    if (!/^[\x21-\x7e]+$/.test(value.toString('latin1'))) return { reason: 'server_name is not an ASCII host name' };
    host = value.toString('latin1');
  }
  if (offset !== data.length || host === undefined) return { reason: 'malformed server_name list' };
  return host;
}
