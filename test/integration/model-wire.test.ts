/**
 * The model client's own request path (no custom fetch): what goes on the wire, and the kept-alive
 * connection under it. A bare node:http server on 127.0.0.1 stands in for the model API, so the
 * test sees each connection and the raw request.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModelCallError } from '../../src/core/errors.js';
import { envProxyInUse } from '../../src/core/model/http.js';
import { createModelClient } from '../../src/core/model/openai-client.js';
import type { ChatRequest } from '../../src/core/model/types.js';
import { failureOf } from '../support/replies.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Which connection (numbered in order of arrival) carried it. */
  connection: number;
}

const stream = (text: string) =>
  [
    `data: ${JSON.stringify({ model: 'm', choices: [{ index: 0, delta: { content: text } }] })}\n\n`,
    `data: ${JSON.stringify({ model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`,
    'data: [DONE]\n\n',
  ].join('');

let server: http.Server;
let url: string;
let seen: Seen[];
let sockets: Set<Socket>;
/** Answers the next request instead of the default stream. */
let next: ((res: http.ServerResponse) => void)[];

beforeEach(async () => {
  seen = [];
  next = [];
  sockets = new Set();
  let connections = 0;
  const ids = new WeakMap<Socket, number>();
  server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body, connection: ids.get(req.socket)! });
      const answer = next.shift();
      if (answer) return answer(res);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(stream(`answer ${seen.length}`));
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket) => {
    ids.set(socket, ++connections);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterEach(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});

const ask = (text: string): ChatRequest => ({ provider: 'default', model: 'gpt-4o-mini', messages: [{ role: 'user', content: text }] });
const client = (extra: Record<string, string> = {}) =>
  createModelClient({
    providers: { default: { type: 'openai', baseURL: url, apiKey: 'sk-wire-test-key', ...extra } },
    env: { OPENAI_PROJECT_ID: 'proj_1' },
    retries: 2,
    timeoutMs: 5_000,
    retryBaseDelayMs: 5,
  });

describe('the request on the wire', () => {
  it('posts the JSON body with its length, the key, organization and project', async () => {
    const result = await client({ organization: 'org_1' }).chat(ask('hi'));
    expect(result.content).toBe('answer 1');

    const req = seen[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v1/chat/completions');
    expect(req.headers).toMatchObject({
      authorization: 'Bearer sk-wire-test-key',
      'content-type': 'application/json',
      'openai-organization': 'org_1',
      'openai-project': 'proj_1',
      'content-length': String(Buffer.byteLength(req.body)),
    });
    expect(JSON.parse(req.body)).toMatchObject({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  });

  it('sends the same body again on a retry', async () => {
    next.push((res) => res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"message":"busy"}}'));
    expect((await client().chat(ask('again'))).content).toBe('answer 2');
    expect(seen).toHaveLength(2);
    expect(seen[1]!.body).toBe(seen[0]!.body);
  });
});

describe('the kept-alive connection', () => {
  it('carries calls made one after another', async () => {
    const c = client();
    for (const text of ['one', 'two', 'three']) await c.chat(ask(text));
    expect(seen.map((s) => s.connection)).toEqual([1, 1, 1]);
  });

  it('is replaced when the server has dropped it between calls', async () => {
    const c = client();
    await c.chat(ask('before'));
    for (const s of sockets) s.destroy();
    expect((await c.chat(ask('after'))).content).toMatch(/^answer \d$/);
    expect(new Set(seen.map((s) => s.connection)).size).toBe(2);
  });
});

describe('an error answer', () => {
  it('is classified from its status, body and headers as the SDK would', async () => {
    next.push((res) => res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"bad \'temperature\'","type":"invalid_request_error"}}'));
    const err = await failureOf(client().chat(ask('x')));
    expect(err).toBeInstanceOf(ModelCallError);
    expect((err as ModelCallError).status).toBe(400);
    expect((err as Error).message).toBe(`Model API rejected the request (400) from ${url}: bad 'temperature'`);
    expect(seen).toHaveLength(1);
  });

  it('shows a body that is not JSON as it is', async () => {
    next.push((res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('no such route'));
    const err = await failureOf(client().chat(ask('x')));
    expect((err as Error).message).toBe(`404 Not Found from ${url}: model "gpt-4o-mini" does not exist there, or the base URL is wrong (no such route)`);
  });
});

describe("Node's env proxy", () => {
  it('sends chat requests through fetch (which it routes) only when it is switched on and a proxy is set', () => {
    const proxy = { HTTPS_PROXY: 'http://proxy.internal:3128' };
    expect(envProxyInUse({ NODE_USE_ENV_PROXY: '1', ...proxy })).toBe(true);
    expect(envProxyInUse({ NODE_OPTIONS: '--use-env-proxy', ...proxy })).toBe(true);
    expect(envProxyInUse(proxy)).toBe(false);
    expect(envProxyInUse({ NODE_USE_ENV_PROXY: '1' })).toBe(false);
  });
});
