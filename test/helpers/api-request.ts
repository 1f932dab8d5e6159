// One HTTP request to a Hangar API as a user's client makes it, with an API key (as a Bearer token
// or x-api-key) and a JSON body: the status, headers and parsed JSON answer, whatever the status.
import { request } from 'undici';

export interface ApiAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: ({ error?: { code: string; message: string; details?: Record<string, unknown> } } & Record<string, unknown>) | undefined;
}

export async function requestApi(
  baseUrl: string,
  method: string,
  route: string,
  options: { key?: string | undefined; body?: unknown; header?: 'authorization' | 'x-api-key' } = {},
): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  const header = options.header ?? 'authorization';
  if (options.key !== undefined) headers[header] = header === 'authorization' ? `Bearer ${options.key}` : options.key;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const answer = await request(new URL(route, baseUrl), {
    method: method as 'GET',
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await answer.body.text();
  return { status: answer.statusCode, headers: answer.headers, body: text === '' ? undefined : (JSON.parse(text) as ApiAnswer['body']) };
}
