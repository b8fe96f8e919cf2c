/**
 * A scripted OpenAI-compatible server on 127.0.0.1 for tests and benchmarks. It speaks the real
 * wire protocol (Chat Completions with SSE streaming and parallel tool calls, Images, Models, and
 * the Azure OpenAI deployment paths), so the real `openai` client can be pointed at it.
 *
 *   const fake = await startFakeOpenAI({ handler: scriptByAgent({ proxy: [{ content: 'hi' }] }) });
 *   // ... point the client at fake.url (OpenAI) or fake.azureEndpoint (Azure) ...
 *   await fake.close();
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { isBodyFault, sendBodyFault, type BodyFault } from './fake-openai-faults.js';

// ---------------------------------------------------------------- types

export type WireContentPart = { type: string; text?: string; image_url?: { url: string } };

export interface WireToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface WireMessage {
  role: string;
  content?: string | WireContentPart[] | null;
  name?: string;
  tool_calls?: WireToolCall[];
  tool_call_id?: string;
}

/** The parsed body of a chat completion request, as far as the fake cares. */
export interface ChatBody {
  model: string;
  messages: WireMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  tools?: { type: string; function: { name: string; description?: string; parameters?: unknown } }[];
  [key: string]: unknown;
}

export interface FakeToolResult {
  toolCallId: string;
  /** The tool name, from the assistant message that made the call. */
  name: string | null;
  content: string;
}

export interface FakeChatRequest {
  body: ChatBody;
  messages: WireMessage[];
  /** The model, or for the Azure path the deployment name. */
  model: string;
  /** Parsed from the first system message (`You are the agent "<name>"`), null if none. */
  agent: string | null;
  lastUserText: string | null;
  /** Tool messages at the end of the conversation, answering the last assistant tool-call message. */
  toolResults: FakeToolResult[];
  /** Names of the tools offered in this request. */
  tools: string[];
  stream: boolean;
  azure: boolean;
  headers: http.IncomingHttpHeaders;
  /** 1-based number of this chat request, overall and for this agent. */
  seq: number;
  agentSeq: number;
}

export interface FakeReply {
  content?: string;
  toolCalls?: { name: string; arguments: object | string; id?: string }[];
  usage?: { prompt_tokens: number; completion_tokens: number };
  latencyMs?: number;
  /** Answer with this HTTP error status (and `error` as its message) instead. */
  status?: number;
  error?: string;
  /** Never answer: the request stays open until the client aborts or the server closes. */
  hang?: boolean;
  /** Split content (and tool arguments) into deltas of this many characters; default: word by word. */
  chunkSize?: number;
  /** Wait this long between content deltas, as a model generating tokens does (streamed answers only). */
  chunkIntervalMs?: number;
  /** Default `tool_calls` or `stop`; null sends no finish_reason at all (as some gateways do). */
  finishReason?: string | null;
  /** false: end the stream without `data: [DONE]` (as some compatible servers do). */
  done?: boolean;
}

export type FakeHandler = (req: FakeChatRequest) => FakeReply | Promise<FakeReply>;

/**
 * Faults for `failNext`: an HTTP status (429 comes with `retry-after-ms: 10`), `hang`, a tool call
 * whose arguments are truncated JSON, a connection reset before any answer, a reset after the
 * stream has started (no text sent yet), or a broken 200 answer (fake-openai-faults.ts).
 */
export type FakeFault = number | 'hang' | 'bad_json_args' | 'reset' | 'reset_mid_stream' | BodyFault;

export interface RecordedRequest {
  kind: 'chat' | 'image';
  path: string;
  headers: http.IncomingHttpHeaders;
  body: ChatBody;
  model: string;
  agent: string | null;
  /** performance.now() when the request arrived and when its connection finished or closed. */
  startedAt: number;
  /** performance.now() when the first content delta (the model's first token) was written; streamed chat only. */
  firstContentAt?: number;
  endedAt: number | null;
  status: number | null;
  fault?: FakeFault;
}

export interface FakeOpenAIOptions {
  handler?: FakeHandler;
  /** Added before every answer. */
  latencyMs?: number;
  /** When set, `/v1` requests must carry `Authorization: Bearer <apiKey>` (else 401, like OpenAI). */
  apiKey?: string;
  models?: string[];
}

export interface FakeOpenAI {
  /** Base URL for the OpenAI client, ending in `/v1`. */
  url: string;
  /** Endpoint for AzureOpenAI (`/openai/deployments/...` lives under it). */
  azureEndpoint: string;
  /** Chat completion requests, in arrival order. */
  requests: RecordedRequest[];
  imageRequests: RecordedRequest[];
  /** Handler failures (e.g. a script that ran out); each was answered with HTTP 500. */
  errors: string[];
  /** Total milliseconds requests spent inside the server (overlapping requests add up). */
  busyMs(): number;
  /** Milliseconds during which at least one request was inside the server. */
  busyWallMs(): number;
  setHandler(fn: FakeHandler): void;
  /** Replies used before the handler, first in first out. */
  enqueue(...replies: (FakeReply | FakeHandler)[]): void;
  /** The next `n` POST requests (chat or images) fail this way. */
  failNext(n: number, fault: FakeFault): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- helpers for handlers

const AGENT_RE = /You are the agent "([a-z][a-z0-9_]*)"/;

export function textOf(content: WireMessage['content']): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => (p.type === 'text' && typeof p.text === 'string' ? p.text : '')).join('');
}

/** The agent named in the first system message, or null. */
export function agentOf(messages: readonly WireMessage[]): string | null {
  const system = messages.find((m) => m.role === 'system' || m.role === 'developer');
  return system ? (AGENT_RE.exec(textOf(system.content))?.[1] ?? null) : null;
}

export function lastUserTextOf(messages: readonly WireMessage[]): string | null {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.role === 'user') return textOf(messages[i]!.content);
  return null;
}

export function toolResultsOf(messages: readonly WireMessage[]): FakeToolResult[] {
  let start = messages.length;
  while (start > 0 && messages[start - 1]!.role === 'tool') start--;
  const caller = messages[start - 1];
  if (start === messages.length || caller?.role !== 'assistant' || !caller.tool_calls?.length) return [];
  const names = new Map(caller.tool_calls.map((c) => [c.id, c.function.name]));
  return messages.slice(start).map((m) => ({
    toolCallId: m.tool_call_id ?? '',
    name: names.get(m.tool_call_id ?? '') ?? null,
    content: textOf(m.content),
  }));
}

/** Thrown by a handler: the request is answered with HTTP 500 and the message is kept in `fake.errors`. */
export class FakeScriptError extends Error {}

/**
 * A handler that answers each agent from its own script: a list of replies used in order (an entry
 * may be a function of the request), or one function for every request. Key `*` serves requests
 * whose agent is not scripted (or that name none). Running out answers HTTP 500 naming the agent.
 */
export function scriptByAgent(script: Record<string, (FakeReply | FakeHandler)[] | FakeHandler>): FakeHandler {
  const counts = new Map<string, number>();
  return (req) => {
    const key = req.agent ?? '*';
    const entry = script[key] ?? script['*'];
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    const said = JSON.stringify((req.lastUserText ?? '').slice(0, 120));
    if (!entry) {
      throw new FakeScriptError(
        `fake-openai: no script for agent "${key}" (its request #${n}; last user text ${said}). Scripted: ${Object.keys(script).join(', ')}`,
      );
    }
    if (typeof entry === 'function') return entry(req);
    const reply = entry[n - 1];
    if (!reply) {
      throw new FakeScriptError(
        `fake-openai: script for agent "${key}" ran out: request #${n}, but only ${entry.length} repl${entry.length === 1 ? 'y' : 'ies'} scripted (last user text ${said})`,
      );
    }
    return typeof reply === 'function' ? reply(req) : reply;
  };
}

// ---------------------------------------------------------------- wire helpers

/** A 1x1 PNG. */
export const TINY_PNG_B64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

const tokens = (chars: number): number => Math.ceil(chars / 4);

function messageChars(messages: readonly WireMessage[]): number {
  let n = 0;
  for (const m of messages) {
    n += textOf(m.content).length;
    for (const c of m.tool_calls ?? []) n += c.function.name.length + c.function.arguments.length;
  }
  return n;
}

function split(text: string, size: number | undefined): string[] {
  if (!text) return [];
  if (size && size > 0) {
    const out: string[] = [];
    for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
    return out;
  }
  return text.match(/\s*\S+\s*|\s+/g) ?? [text];
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function sendError(res: http.ServerResponse, status: number, message: string, extra: Record<string, string> = {}): void {
  const type = status === 429 ? 'rate_limit_exceeded' : status === 401 ? 'invalid_request_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
  const headers = status === 429 ? { 'retry-after-ms': '10', 'retry-after': '0', ...extra } : extra;
  sendJson(res, status, { error: { message, type, param: null, code: type } }, headers);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function faultReply(fault: FakeFault): FakeReply {
  if (typeof fault === 'number') return { status: fault, error: `injected failure ${fault}` };
  if (fault === 'hang') return { hang: true };
  if (fault === 'bad_json_args') {
    return { toolCalls: [{ name: 'send_message', arguments: '{"recipient": "vision_agent", "message": ' }] };
  }
  return {};
}

// ---------------------------------------------------------------- the server

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  let handler: FakeHandler | undefined = options.handler;
  const queue: (FakeReply | FakeHandler)[] = [];
  const faults: FakeFault[] = [];
  const requests: RecordedRequest[] = [];
  const imageRequests: RecordedRequest[] = [];
  const errors: string[] = [];
  const agentCounts = new Map<string, number>();
  const sockets = new Set<Socket>();
  /** One controller per open request, aborted when it ends or the server closes (no listeners on a shared signal). */
  const open = new Set<AbortController>();
  let seq = 0;

  async function chat(req: http.IncomingMessage, res: http.ServerResponse, rec: RecordedRequest, signal: AbortSignal, azure: boolean) {
    const body = rec.body;
    const messages = Array.isArray(body.messages) ? body.messages : [];
    const fault = faults.shift();
    if (fault !== undefined) rec.fault = fault;
    const stream = body.stream === true;
    seq++;
    const agentKey = rec.agent ?? '*';
    const agentSeq = (agentCounts.get(agentKey) ?? 0) + 1;
    agentCounts.set(agentKey, agentSeq);

    if (fault === 'reset') return void req.socket.destroy();
    if (isBodyFault(fault)) return sendBodyFault(res, fault, rec.model);
    let reply: FakeReply;
    try {
      if (fault !== undefined) reply = faultReply(fault);
      else {
        const info: FakeChatRequest = {
          body,
          messages,
          model: rec.model,
          agent: rec.agent,
          lastUserText: lastUserTextOf(messages),
          toolResults: toolResultsOf(messages),
          tools: (body.tools ?? []).map((t) => t.function?.name).filter((n): n is string => typeof n === 'string'),
          stream,
          azure,
          headers: req.headers,
          seq,
          agentSeq,
        };
        const next = queue.shift();
        if (next) reply = typeof next === 'function' ? await next(info) : next;
        else if (handler) reply = await handler(info);
        else reply = { content: `echo: ${info.lastUserText ?? ''}` };
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      errors.push(message);
      return sendError(res, 500, message, { 'x-should-retry': 'false' });
    }

    await delay((options.latencyMs ?? 0) + (reply.latencyMs ?? 0), signal);
    if (signal.aborted) return;
    if (reply.hang) return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    if (reply.status && reply.status >= 400) return sendError(res, reply.status, reply.error ?? `error ${reply.status}`);

    const id = `chatcmpl-fake${seq}`;
    const created = Math.floor(Date.now() / 1000);
    const content = reply.content ?? '';
    const calls = (reply.toolCalls ?? []).map((c, i) => ({
      id: c.id ?? `call_${seq}_${i}`,
      type: 'function' as const,
      function: { name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments) },
    }));
    const finish = reply.finishReason === undefined ? (calls.length ? 'tool_calls' : 'stop') : reply.finishReason;
    const completionChars = content.length + calls.reduce((n, c) => n + c.function.name.length + c.function.arguments.length, 0);
    const u = reply.usage ?? { prompt_tokens: tokens(messageChars(messages)), completion_tokens: tokens(completionChars) };
    const usage = { ...u, total_tokens: u.prompt_tokens + u.completion_tokens };

    if (!stream) {
      const message = { role: 'assistant', content: reply.content ?? (calls.length ? null : ''), refusal: null, ...(calls.length ? { tool_calls: calls } : {}) };
      return sendJson(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model: rec.model,
        choices: [{ index: 0, message, finish_reason: finish, logprobs: null }],
        usage,
      });
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: rec.model, choices, ...extra })}\n\n`);
    const delta = (d: Record<string, unknown>, finish_reason: string | null = null) => send([{ index: 0, delta: d, logprobs: null, finish_reason }]);

    delta({ role: 'assistant', content: '' });
    if (fault === 'reset_mid_stream') return void setImmediate(() => req.socket.destroy());
    for (const [i, piece] of split(content, reply.chunkSize).entries()) {
      if (i > 0 && reply.chunkIntervalMs) {
        await delay(reply.chunkIntervalMs, signal);
        if (signal.aborted) return;
      }
      rec.firstContentAt ??= performance.now();
      delta({ content: piece });
    }
    // Parallel tool calls: announce each, then interleave their argument pieces, as `index` allows.
    calls.forEach((c, index) => delta({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.function.name, arguments: '' } }] }));
    const pieces = calls.map((c) => split(c.function.arguments, reply.chunkSize ?? 16));
    for (let round = 0; pieces.some((p) => p.length > round); round++) {
      pieces.forEach((p, index) => {
        if (p[round] !== undefined) delta({ tool_calls: [{ index, function: { arguments: p[round] } }] });
      });
    }
    if (finish !== null) delta({}, finish);
    if (body.stream_options?.include_usage) send([], { usage });
    res.end(reply.done === false ? undefined : 'data: [DONE]\n\n');
  }

  function image(res: http.ServerResponse, rec: RecordedRequest, signal: AbortSignal) {
    const fault = faults.shift();
    if (fault !== undefined) rec.fault = fault;
    if (fault === 'reset') return void res.socket?.destroy();
    if (fault === 'hang') return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    if (typeof fault === 'number') return sendError(res, fault, `injected failure ${fault}`);
    const prompt = typeof rec.body['prompt'] === 'string' ? rec.body['prompt'] : '';
    const item = rec.body['response_format'] === 'url' ? { url: `data:image/png;base64,${TINY_PNG_B64}` } : { b64_json: TINY_PNG_B64 };
    sendJson(res, 200, { created: Math.floor(Date.now() / 1000), data: [{ ...item, revised_prompt: `A picture of ${prompt}` }] });
  }

  const server = http.createServer((req, res) => {
    void route(req, res).catch((err: unknown) => {
      errors.push(err instanceof Error ? err.message : String(err));
      sendError(res, 500, 'fake-openai internal error');
    });
  });

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    if (req.method === 'GET' && path === '/v1/models') {
      const ids = options.models ?? ['gpt-4o-mini', 'gpt-4o', 'gpt-image-1'];
      return sendJson(res, 200, { object: 'list', data: ids.map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake-openai' })) });
    }
    const azureMatch = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|images\/generations)$/.exec(path);
    const v1Match = /^\/v1\/(chat\/completions|images\/generations)$/.exec(path);
    if (req.method !== 'POST' || (!azureMatch && !v1Match)) return sendError(res, 404, `fake-openai: no route ${req.method} ${path}`);

    const raw = await readBody(req);
    let body: ChatBody;
    try {
      body = JSON.parse(raw) as ChatBody;
    } catch {
      return sendError(res, 400, 'fake-openai: request body is not JSON');
    }
    const azure = Boolean(azureMatch);
    const kind = (azureMatch?.[2] ?? v1Match?.[1]) === 'chat/completions' ? 'chat' : 'image';
    const model = azureMatch ? decodeURIComponent(azureMatch[1]!) : String(body.model ?? '');
    const rec: RecordedRequest = {
      kind,
      path: req.url ?? path,
      headers: req.headers,
      body,
      model,
      agent: kind === 'chat' && Array.isArray(body.messages) ? agentOf(body.messages) : null,
      startedAt: performance.now(),
      endedAt: null,
      status: null,
    };
    (kind === 'chat' ? requests : imageRequests).push(rec);
    const gone = new AbortController();
    open.add(gone);
    res.on('close', () => {
      rec.endedAt = performance.now();
      rec.status = res.headersSent ? res.statusCode : null;
      open.delete(gone);
      gone.abort();
    });

    if (azure) {
      if (!req.headers['api-key']) return sendError(res, 401, 'Access denied due to missing api-key header.');
      if (!url.searchParams.get('api-version')) return sendError(res, 404, 'Resource not found (api-version query parameter missing).');
    } else if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      const sent = (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
      return sendError(res, 401, `Incorrect API key provided: ${sent.slice(0, 3)}***${sent.slice(-4)}.`);
    }
    return kind === 'chat' ? chat(req, res, rec, gone.signal, azure) : image(res, rec, gone.signal);
  }

  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  const spans = () => [...requests, ...imageRequests].map((r) => [r.startedAt, r.endedAt ?? performance.now()] as const);

  return {
    url: `${origin}/v1`,
    azureEndpoint: origin,
    requests,
    imageRequests,
    errors,
    busyMs: () => spans().reduce((sum, [a, b]) => sum + (b - a), 0),
    busyWallMs() {
      let total = 0;
      let end = -Infinity;
      for (const [a, b] of spans().sort((x, y) => x[0] - y[0])) {
        if (b <= end) continue;
        total += b - Math.max(a, end);
        end = b;
      }
      return total;
    },
    setHandler(fn) {
      handler = fn;
    },
    enqueue(...replies) {
      queue.push(...replies);
    },
    failNext(n, fault) {
      for (let i = 0; i < n; i++) faults.push(fault);
    },
    close() {
      for (const gone of open) gone.abort();
      open.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
      });
    },
  };
}
