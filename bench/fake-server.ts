/**
 * The model server for the benchmarks, in a process of its own: the scripted fake the tests use
 * (test/support/fake-openai.ts), driven over IPC by the scenario process.
 *
 * Why a separate process: the engine's CPU (`process.cpuUsage()`) and its event loop must not
 * include the fake's work (parsing requests, writing SSE), just as a real model server runs
 * elsewhere. And so that "time inside the model server" is measured where it happens:
 *
 * - a request's span starts when its headers have been parsed (the server's `request` event) and
 *   ends when the last byte of the answer has been handed to the OS (`finish`); reading and
 *   parsing the body, the handler, the scripted latency and the SSE writing are inside it;
 * - idle keep-alive connections are kept for 120 s (see below);
 * - the answer is corked until `end()`, so the whole stream leaves in one write after the span:
 *   the client cannot parse early chunks while the server still counts time, which would hide
 *   client work inside the server's span and credit the engine with time that is not its own.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { lastUserTextOf, startFakeOpenAI, type FakeChatRequest } from '../test/support/fake-openai.js';
import { epochNow, scriptedReply, tagOf, type FakeCommand, type FakeSettings, type Span } from './script.js';

let settings: FakeSettings = { mode: 'direct', latencyMs: 0, specialists: [] };
const reply = (req: FakeChatRequest) => scriptedReply(settings, req);

// Times per request, keyed by the request's headers object (the fake records the same object).
const timing = new WeakMap<object, { arrival: number; finish: number; status: number }>();
const originalCreateServer = http.createServer;
(http as { createServer: unknown }).createServer = (...args: Parameters<typeof http.createServer>) => {
  const server = originalCreateServer(...args);
  // Node's default (5 s) races with undici's reuse of idle sockets between rounds ("other side
  // closed", then a retry after backoff): hosted model APIs keep connections open far longer.
  server.keepAliveTimeout = 120_000;
  server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const t = { arrival: epochNow(), finish: Number.NaN, status: 0 };
    timing.set(req.headers, t);
    res.cork(); // uncorked by end()
    res.on('finish', () => {
      t.finish = epochNow();
      t.status = res.statusCode;
    });
  });
  return server;
};

// The fake adds one abort listener per open request to a shared signal; 1,000 at once is the point here.
EventEmitter.defaultMaxListeners = 0;
const fake = await startFakeOpenAI({ handler: reply });
(http as { createServer: unknown }).createServer = originalCreateServer;

function collect(): Span[] {
  const done: Span[] = [];
  const open: typeof fake.requests = [];
  for (const r of fake.requests) {
    const t = timing.get(r.headers);
    if (!t || Number.isNaN(t.finish)) {
      open.push(r); // still being answered: kept for the next collect
      continue;
    }
    const messages = Array.isArray(r.body.messages) ? r.body.messages : [];
    done.push({ tag: tagOf(lastUserTextOf(messages)), agent: r.agent, arrival: t.arrival, finish: t.finish, status: t.status });
  }
  fake.requests.length = 0;
  fake.requests.push(...open);
  return done;
}

process.on('message', (msg: FakeCommand) => {
  const answer = (value: unknown) => process.send!({ id: msg.id, value });
  switch (msg.cmd) {
    case 'set':
      settings = msg.settings;
      return answer(null);
    case 'collect':
      return answer({ spans: collect(), errors: fake.errors.splice(0) });
    case 'cpu':
      return answer(process.cpuUsage());
    case 'close':
      void fake.close().then(() => {
        answer(null);
        process.disconnect();
      });
      return;
  }
});
// Diagnostic (BENCH_FAKE_SPIN=1): keep this process busy so its CPU never idles. On a VM, waking
// an idle CPU is charged to the sender's write(); this shows how much of the transport cost that is.
if (process.env.BENCH_FAKE_SPIN === '1') {
  const spin = () => {
    if (process.connected) setImmediate(spin);
  };
  spin();
}
process.send!({ ready: fake.url });
