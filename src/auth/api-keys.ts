// API key tokens: `hgk_<16 hex id>_<43 base64url secret>`. The id finds the stored key; only the
// SHA-256 hash of the secret is stored, and a presented secret is compared by hash in constant time.
// Pure, apart from the random bytes.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const TOKEN_PATTERN = /^hgk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface NewApiKey {
  id: string;
  /** The whole token, shown once. */
  token: string;
  secretHash: string;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function generateApiKey(): NewApiKey {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, token: `hgk_${id}_${secret}`, secretHash: hashSecret(secret) };
}

/** The id and secret of a token, or undefined when it is not one. */
export function parseApiKey(token: string): { id: string; secret: string } | undefined {
  const match = TOKEN_PATTERN.exec(token);
  return match === null ? undefined : { id: match[1]!, secret: match[2]! };
}

/** True when `secret` hashes to `secretHash` (compared in constant time). */
export function secretMatches(secret: string, secretHash: string): boolean {
  const presented = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(secretHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

/** The token a request presents: `Authorization: Bearer <token>`, or `x-api-key: <token>` as Anthropic's SDKs send it. */
export function presentedToken(headers: { authorization?: string | undefined; 'x-api-key'?: string | string[] | undefined }): string | undefined {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey !== '') return apiKey.trim();
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  return bearer?.[1];
}
