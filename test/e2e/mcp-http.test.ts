import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { scriptByAgent, type WireMessage } from '../support/fake-openai.js';
import { connectHttp, serveFails, startServe, startWorld, textOf, type McpWorld, type ServeProcess } from '../support/mcp-harness.js';
import type { RunOutput } from '../../src/mcp/schemas.js';

const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

/** A raw POST to /mcp with the headers we choose (fetch will not let us set Host). */
function post(port: number, headers: Record<string, string>, body: unknown = INIT): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/mcp',
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8').on('data', (d: string) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
      },
    );
    req.on('error', reject);
    req.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
}

const turns = (messages: WireMessage[]) => messages.filter((m) => m.role !== 'system').map((m) => [m.role, m.content]);

const ALICE = 'alice-token-0123456789abcdef';
const BOB = 'bob-token-0123456789abcdef00';

describe('switchboard serve: MCP over Streamable HTTP on loopback', () => {
  let world: McpWorld;
  let serve: ServeProcess;
  beforeAll(async () => {
    world = await startWorld();
    serve = await startServe(world);
  });
  afterAll(async () => {
    await serve?.stop();
    await world?.close();
  });

  it('serves /healthz and MCP without a token on loopback, with thread memory across calls', async () => {
    const health = await fetch(`${serve.origin}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });

    world.fake.setHandler(scriptByAgent({ vision_agent: [{ content: 'A red kite.' }, { content: 'It flies high.' }] }));
    const client = await connectHttp(`${serve.origin}/mcp`);
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['ask_team', 'ask_vision_agent', 'ask_code_agent', 'ask_image_agent', 'get_run']));
      const first = await client.callTool({ name: 'ask_vision_agent', arguments: { message: 'What is in kite.png?' } });
      const id = (first.structuredContent as RunOutput).conversation_id;
      const second = await client.callTool({ name: 'ask_vision_agent', arguments: { message: 'How high?', conversation_id: id } });
      expect(second.structuredContent).toMatchObject({ conversation_id: id, reply: 'It flies high.' });
      expect(turns(world.fake.requests.at(-1)!.body.messages)).toEqual([
        ['user', 'What is in kite.png?'],
        ['assistant', 'A red kite.'],
        ['user', 'How high?'],
      ]);
    } finally {
      await client.close();
    }
  });

  it('asks for a tool approval by elicitation on the request\'s own stream, and the run goes on', async () => {
    world.fake.setHandler(
      scriptByAgent({
        code_agent: [{ toolCalls: [{ name: 'run_code', arguments: { language: 'node', code: 'console.log(6 * 7)' } }] }, (req) => ({ content: `Got ${req.toolResults[0]!.content}` })],
      }),
    );
    const client = await connectHttp(`${serve.origin}/mcp`, { capabilities: { elicitation: { form: {} } } });
    const asked: string[] = [];
    client.setRequestHandler(ElicitRequestSchema, (req) => {
      asked.push(req.params.message);
      return { action: 'accept', content: { decision: 'approve' } };
    });
    try {
      const result = await client.callTool({ name: 'ask_code_agent', arguments: { message: 'Compute 6*7 with code' } });
      expect(asked).toEqual([expect.stringContaining('code_agent wants to run node code')]);
      expect(result.structuredContent).toMatchObject({ status: 'completed', reply: expect.stringContaining('42') });
    } finally {
      await client.close();
    }
  });

  it('rejects a foreign Host or Origin (DNS rebinding) with 403, and accepts localhost ones', async () => {
    const evilHost = await post(serve.port, { host: 'evil.example.com' });
    expect(evilHost.status).toBe(403);
    expect(evilHost.body).toMatch(/Invalid Host header/);
    const evilOrigin = await post(serve.port, { host: `localhost:${serve.port}`, origin: 'http://evil.example.com' });
    expect(evilOrigin.status).toBe(403);
    expect(evilOrigin.body).toMatch(/Invalid Origin header/);
    const good = await post(serve.port, { host: `localhost:${serve.port}`, origin: `http://localhost:${serve.port}` });
    expect(good.status).toBe(200);
    expect(good.headers['mcp-session-id']).toBeTruthy();
  });

  it('answers malformed requests with JSON-RPC errors and keeps serving', async () => {
    const host = { host: `127.0.0.1:${serve.port}` };
    const notJson = await post(serve.port, host, '{oops');
    expect(notJson.status).toBe(400);
    expect(JSON.parse(notJson.body)).toMatchObject({ error: { code: -32700 } });
    const noSession = await post(serve.port, host, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
    expect(noSession.status).toBe(400);
    const unknownSession = await post(serve.port, { ...host, 'mcp-session-id': 'nope' }, { jsonrpc: '2.0', id: 3, method: 'tools/list' });
    expect(unknownSession.status).toBe(404);
    expect((await fetch(`${serve.origin}/healthz`)).status).toBe(200);
  });
});

describe('switchboard serve with bearer tokens', () => {
  let world: McpWorld;
  let serve: ServeProcess;
  beforeAll(async () => {
    world = await startWorld({ config: { mcp: { tokens: { alice: ALICE, 'mcp:bob': BOB } } } });
    // Beyond loopback: every request needs a token. (Bound to all interfaces, reached through 127.0.0.1.)
    serve = await startServe(world, ['--host', '0.0.0.0']);
  });
  afterAll(async () => {
    await serve?.stop();
    await world?.close();
  });

  it('answers 401 without a valid token and serves the principal a token names', async () => {
    const none = await post(serve.port, {});
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    const wrong = await post(serve.port, { authorization: 'Bearer not-a-valid-token-at-all' });
    expect(wrong.status).toBe(401);
    await expect(connectHttp(`${serve.origin}/mcp`)).rejects.toThrow();

    world.fake.setHandler(scriptByAgent({ vision_agent: [{ content: 'Seen.' }] }));
    const alice = await connectHttp(`${serve.origin}/mcp`, { token: ALICE });
    const bob = await connectHttp(`${serve.origin}/mcp`, { token: BOB });
    try {
      const mine = await alice.callTool({ name: 'ask_vision_agent', arguments: { message: 'Look at a.png' } });
      const id = (mine.structuredContent as RunOutput).conversation_id;
      expect(mine.isError).toBeFalsy();
      // Bob may not continue (or read) Alice's conversation.
      const theirs = await bob.callTool({ name: 'ask_vision_agent', arguments: { message: 'And b.png?', conversation_id: id } });
      expect(theirs.isError).toBe(true);
      expect(textOf(theirs)).toMatch(/belongs to someone else/);
      await expect(bob.readResource({ uri: `switchboard://conversations/${id}` })).rejects.toThrow(/No conversation/);
      const read = await alice.readResource({ uri: `switchboard://conversations/${id}` });
      expect((read.contents[0] as { text: string }).text).toContain('Look at a.png');
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  it('does not let one principal use another\'s session', async () => {
    const opened = await post(serve.port, { authorization: `Bearer ${ALICE}` });
    const session = opened.headers['mcp-session-id'] as string;
    expect(session).toBeTruthy();
    const hijack = await post(serve.port, { authorization: `Bearer ${BOB}`, 'mcp-session-id': session }, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
    expect(hijack.status).toBe(404);
  });
});

describe('switchboard serve refuses an open door', () => {
  let world: McpWorld;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => world?.close());

  it('will not bind beyond loopback without tokens', async () => {
    const { code, stderr } = await serveFails(world, ['--host', '0.0.0.0']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/needs bearer tokens: add mcp\.tokens/);
  });
});
