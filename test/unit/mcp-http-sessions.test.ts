/**
 * MCP HTTP sessions, in process: the handler on a real 127.0.0.1 server, the SDK's own client, the
 * engine on SQLite in memory with its model pointed at the fake OpenAI server. Idle time comes from
 * a fake clock and `sweep()` is called by the test, so nothing here waits for a timer to fire.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { parseConfig } from '../../src/core/agents/load.js';
import { silentLogger } from '../../src/core/logger.js';
import { createSwitchboard, type Switchboard } from '../../src/core/switchboard.js';
import { describeDeployment } from '../../src/mcp/context.js';
import { SessionEventStore } from '../../src/mcp/event-store.js';
import { createMcpHttpHandler, listenHttp, type HttpHost, type McpHttpHandler, type McpHttpOptions } from '../../src/mcp/http.js';
import type { RunOutput } from '../../src/mcp/schemas.js';
import { scriptByAgent, startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { until } from '../support/mcp-harness.js';

const ALICE = 'alice-token-0123456789abcdef';
const BOB = 'bob-token-0123456789abcdef00';

interface World {
  fake: FakeOpenAI;
  sb: Switchboard;
  handler: McpHttpHandler;
  host: HttpHost;
  url: string;
  clock: { t: number };
  clients: Client[];
}

let world: World | undefined;

async function start(mcp: Record<string, unknown> = {}, options: Partial<McpHttpOptions> = {}): Promise<World> {
  const fake = await startFakeOpenAI();
  const env = { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.url };
  const config = parseConfig({ store: { type: 'sqlite', path: ':memory:' }, limits: { modelRetries: 0 }, mcp: { tokens: { alice: ALICE, bob: BOB }, ...mcp } });
  const sb = await createSwitchboard({ config, env, logger: silentLogger });
  const { agents, catalog, plans } = describeDeployment(config);
  const clock = { t: 1_000_000 };
  const handler = createMcpHttpHandler({
    bindHost: '127.0.0.1',
    deps: { config, agents, catalog, plans, env, logger: silentLogger, switchboard: async () => sb, progressIntervalMs: 50, askTimeoutMs: 30_000 },
    now: () => clock.t,
    ...options,
  });
  const host = await listenHttp({ host: '127.0.0.1', port: 0, logger: silentLogger, routes: { '/mcp': handler.handle } });
  world = { fake, sb, handler, host, url: `${host.url}/mcp`, clock, clients: [] };
  return world;
}

afterEach(async () => {
  if (!world) return;
  const w = world;
  world = undefined;
  await Promise.all(w.clients.map((c) => c.close().catch(() => undefined)));
  await w.handler.close();
  await w.host.close();
  await w.sb.close();
  await w.fake.close();
});

async function connect(w: World, token: string, fetchFn?: FetchLike): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(w.url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
    ...(fetchFn ? { fetch: fetchFn } : {}),
    reconnectionOptions: { initialReconnectionDelay: 20, maxReconnectionDelay: 200, reconnectionDelayGrowFactor: 1.5, maxRetries: 10 },
  });
  const client = new Client({ name: 'sessions-test', version: '1' });
  await client.connect(transport);
  w.clients.push(client);
  return client;
}

/** A raw initialize, to read the status and message of a refusal. */
async function rawInitialize(w: World, token: string): Promise<{ status: number; body: string }> {
  const res = await fetch(w.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
  });
  return { status: res.status, body: await res.text() };
}

/** A call to a model that answers only when `release` is called; resolves its run and conversation ids from the first progress line. */
function gatedCall(w: World, client: Client, signal?: AbortSignal) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  w.fake.setHandler(scriptByAgent({ vision_agent: [async () => (await gate, { content: 'Here it is.' })] }));
  const progress: Progress[] = [];
  const call = client.callTool({ name: 'ask_vision_agent', arguments: { message: 'Describe a.png' } }, undefined, { onprogress: (p) => progress.push(p), signal, timeout: 60_000 });
  call.catch(() => undefined);
  const ids = async () => {
    await until(() => progress.length > 0, 'the first progress line');
    const m = /run (run_\w+), conversation (conv_\w+)/.exec(progress[0]!.message ?? '');
    return { runId: m![1]!, conversationId: m![2]! };
  };
  return { call, release, progress, ids };
}

describe('MCP HTTP sessions per principal', () => {
  it('opening one more than the cap closes that principal\'s least recently used idle session, never another principal\'s', async () => {
    const w = await start({ maxSessionsPerPrincipal: 2 });
    const a1 = await connect(w, ALICE);
    w.clock.t += 1000;
    const a2 = await connect(w, ALICE);
    const b1 = await connect(w, BOB);
    const b2 = await connect(w, BOB);
    w.clock.t += 1000;
    await a1.ping(); // a1 is used now: a2 is the least recently used
    expect(w.handler.sessionCount()).toBe(4);

    const a3 = await connect(w, ALICE);
    expect(w.handler.sessionCount()).toBe(4);
    await expect(a2.ping()).rejects.toThrow(/Session not found|404/);
    await a1.ping();
    await a3.ping();
    await b1.ping();
    await b2.ping();
  });

  it('refuses a new session with a clear error when every session of the principal has a call in flight', async () => {
    const w = await start({ maxSessionsPerPrincipal: 1 });
    const a1 = await connect(w, ALICE);
    const ac = new AbortController();
    const busy = gatedCall(w, a1, ac.signal);
    await busy.ids();

    const refused = await rawInitialize(w, ALICE);
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body).error.message).toMatch(/Too many MCP sessions for alice: 1 are open and each has a tool call in flight\. Close one/);
    // Bob is not alice.
    expect((await rawInitialize(w, BOB)).status).toBe(200);

    // Once the call ends the session is idle again, and a new one takes its place.
    busy.release();
    expect(((await busy.call).structuredContent as RunOutput).reply).toBe('Here it is.');
    expect((await rawInitialize(w, ALICE)).status).toBe(200);
    await expect(a1.ping()).rejects.toThrow();
  });

  it('closes sessions idle longer than mcp.sessionIdleMs, but not one with a call in flight', async () => {
    const w = await start({ sessionIdleMs: 60_000 });
    const idle = await connect(w, ALICE);
    const working = await connect(w, ALICE);
    const busy = gatedCall(w, working);
    await busy.ids();

    w.clock.t += 59_000;
    expect(w.handler.sweep()).toBe(0);
    w.clock.t += 2_000;
    expect(w.handler.sweep()).toBe(1);
    expect(w.handler.sessionCount()).toBe(1);
    await expect(idle.ping()).rejects.toThrow(/Session not found|404/);

    busy.release();
    await busy.call;
    // The call's end counts as activity; idle from then on, it goes too.
    expect(w.handler.sweep()).toBe(0);
    w.clock.t += 61_000;
    expect(w.handler.sweep()).toBe(1);
    expect(w.handler.sessionCount()).toBe(0);
  });

  it('closing a session frees what it holds: the call in flight stops watching, and its run is not cancelled', async () => {
    const w = await start();
    const client = await connect(w, ALICE);
    const busy = gatedCall(w, client);
    const { runId, conversationId } = await busy.ids();
    expect(w.sb.bus.hasListeners(conversationId)).toBe(true);

    await w.handler.close();
    expect(w.handler.sessionCount()).toBe(0);
    await until(() => !w.sb.bus.hasListeners(conversationId), 'the watcher to unsubscribe');
    // The run is durable: it goes on without the session and completes.
    busy.release();
    const ended = await w.sb.wait(runId);
    expect(ended).toMatchObject({ status: 'completed', reply: 'Here it is.' });
  });
});

describe('MCP HTTP streams resume', () => {
  it('a client that loses the SSE stream mid-call reconnects with Last-Event-ID and gets the progress it missed and the result', async () => {
    const w = await start({}, { retryMs: 20 });
    // The tools/call response stream is cut (the connection aborted) after its first progress event.
    const reconnects: string[] = [];
    let dropped = false;
    const cutting: FetchLike = async (url, init) => {
      const headers = new Headers(init?.headers);
      if (init?.method === 'GET' && headers.get('last-event-id')) reconnects.push(headers.get('last-event-id')!);
      const isCall = init?.method === 'POST' && typeof init.body === 'string' && init.body.includes('"tools/call"');
      if (!isCall || dropped) return fetch(url, init);
      const ac = new AbortController();
      const res = await fetch(url, { ...init, signal: ac.signal });
      const reader = res.body!.getReader();
      let seen = '';
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { value, done } = await reader.read();
          if (done) return controller.close();
          controller.enqueue(value);
          seen += new TextDecoder().decode(value);
          if (seen.includes('notifications/progress')) {
            dropped = true;
            ac.abort();
            controller.error(new Error('connection lost'));
          }
        },
      });
      return new Response(body, { status: res.status, headers: res.headers });
    };
    const client = await connect(w, ALICE, cutting);
    const call = gatedCall(w, client);
    await until(() => dropped, 'the stream to be cut');
    await until(() => reconnects.length > 0, 'the client to reconnect with Last-Event-ID');
    const before = call.progress.length;
    // Heartbeats go out while the model works; those sent while no stream was open are replayed.
    await until(() => call.progress.length > before + 1, 'progress after the reconnect');
    call.release();
    const result = await call.call;
    expect(result.structuredContent).toMatchObject({ status: 'completed', reply: 'Here it is.' });
    const values = call.progress.map((p) => p.progress);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(new Set(values).size).toBe(values.length);
  });
});

describe('the session event store', () => {
  const msg = (n: number) => ({ jsonrpc: '2.0' as const, method: 'notifications/progress', params: { progressToken: 1, progress: n } });
  const replay = async (store: SessionEventStore, after: string) => {
    const got: [string, unknown][] = [];
    const stream = await store.replayEventsAfter(after, { send: async (id, m) => void got.push([id, m]) });
    return { stream, got };
  };

  it('replays what a stream sent after the cursor, skipping priming events and other streams', async () => {
    const store = new SessionEventStore();
    const priming = await store.storeEvent('s1', {} as never);
    const e1 = await store.storeEvent('s1', msg(1));
    await store.storeEvent('s2', msg(100));
    const e2 = await store.storeEvent('s1', msg(2));
    expect(await store.getStreamIdForEventId(e1)).toBe('s1');
    expect(await replay(store, priming)).toEqual({ stream: 's1', got: [[e1, msg(1)], [e2, msg(2)]] });
    expect(await replay(store, e2)).toEqual({ stream: 's1', got: [] });
  });

  it('keeps at most maxEvents events, none older than maxAgeMs: an older cursor is unknown', async () => {
    const clock = { t: 0 };
    const store = new SessionEventStore({ maxEvents: 3, maxAgeMs: 1_000, now: () => clock.t });
    const first = await store.storeEvent('s', msg(1));
    for (let i = 2; i <= 4; i++) await store.storeEvent('s', msg(i));
    expect(store.size).toBe(3);
    expect(await store.getStreamIdForEventId(first)).toBeUndefined();
    clock.t += 1_001;
    const fresh = await store.storeEvent('s', msg(5));
    expect(store.size).toBe(1);
    expect(await store.getStreamIdForEventId(fresh)).toBe('s');
  });
});
