/**
 * MCP over Streamable HTTP at `/mcp`: one SDK session (McpServer + transport) per client, bound
 * to the principal that opened it. Host/Origin and bearer checks run before anything else (see
 * guard.ts). Sessions live in memory, bounded per principal and closed when idle (sessions.ts);
 * conversations live in the store, so a restart loses only the sessions (clients re-initialize,
 * as the spec says they do on 404). Each session keeps the events it sent (event-store.ts), so a
 * client that loses an SSE stream mid-call resumes it with `Last-Event-ID`.
 *
 * `listenHttp` is the plain node:http host the `serve` command mounts routes on — `/mcp` and
 * `/healthz` now, the chat adapters' endpoints later.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../index.js';
import { mcpConfig } from './config.js';
import type { McpDeps } from './context.js';
import { SessionEventStore, type SessionEventStoreOptions } from './event-store.js';
import { createGuard, type GuardOptions } from './guard.js';
import { createMcpServer } from './server.js';
import { SessionPool, type PooledSession } from './sessions.js';

export type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

export interface McpHttpOptions extends Omit<GuardOptions, 'tokens'> {
  /** Everything but the principal, which each session gets from its token. */
  deps: Omit<McpDeps, 'principal'>;
  tokens?: Record<string, string>;
  /** Sessions with no request this long (and no call in flight) are closed (default: config `mcp.sessionIdleMs`). */
  sessionIdleMs?: number;
  /** Sessions one principal may hold (default: config `mcp.maxSessionsPerPrincipal`). */
  maxSessionsPerPrincipal?: number;
  /** Largest accepted request body (default: room for a message at the configured limit). */
  maxBodyBytes?: number;
  /** What a session keeps for clients that resume a stream. */
  events?: SessionEventStoreOptions;
  /** The `retry` hint (ms) sent with each stream's first event id: how soon a client that lost the stream reconnects. */
  retryMs?: number;
  /** The clock of idle timeouts (tests pass a fake one and call `sweep`). */
  now?: () => number;
}

export interface McpHttpHandler {
  handle: Route;
  sessionCount(): number;
  /** Closes the sessions idle for too long; runs on a timer too. Returns how many it closed. */
  sweep(): number;
  close(): Promise<void>;
}

export const DEFAULT_RETRY_MS = 1_000;

interface HttpSession extends PooledSession {
  handle(req: http.IncomingMessage, res: http.ServerResponse, body: unknown): Promise<void>;
}

export function sendJsonRpcError(res: http.ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

export function createMcpHttpHandler(opts: McpHttpOptions): McpHttpHandler {
  const config = opts.deps.config;
  const settings = mcpConfig(config);
  const guard = createGuard({ ...opts, tokens: opts.tokens ?? settings.tokens });
  const logger = opts.deps.logger;
  const idleMs = opts.sessionIdleMs ?? settings.sessionIdleMs;
  const now = opts.now ?? Date.now;
  const pool = new SessionPool<HttpSession>({
    idleMs,
    maxPerPrincipal: opts.maxSessionsPerPrincipal ?? settings.maxSessionsPerPrincipal,
    now,
    onClose: (s, why) => logger.debug(`MCP session closed (${why})`, { session: s.id, principal: s.principalKey }),
  });
  const maxBody = opts.maxBodyBytes ?? Math.max(1 << 20, config.limits.maxMessageChars * 4 + (64 << 10));
  const sweeper = setInterval(() => pool.sweep(), Math.max(1_000, Math.min(idleMs / 4, 60_000)));
  sweeper.unref();

  async function open(res: http.ServerResponse, req: http.IncomingMessage, body: unknown, principal: McpDeps['principal'], principalKey: string) {
    const admission = pool.admit(principalKey);
    if (!admission.ok) return sendJsonRpcError(res, 429, -32000, admission.message);
    // Aborted before the session closes, for whatever reason: its calls hand back instead of cancelling runs.
    const ending = new AbortController();
    let id: string | undefined;
    const server = createMcpServer({ ...opts.deps, principal, shutdown: ending.signal, onToolCall: () => (id ? pool.callStarted(id) : () => {}) });
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new SessionEventStore({ now, ...opts.events }),
      retryInterval: opts.retryMs ?? DEFAULT_RETRY_MS,
      onsessioninitialized: (sessionId) => {
        id = sessionId;
        pool.add({ id: sessionId, principalKey, close, handle: (rq, rs, b) => transport.handleRequest(rq, rs, b) });
        admission.release();
        logger.debug('MCP session opened', { session: sessionId, principal: principalKey });
      },
      // The client's DELETE: the transport closes itself after this.
      onsessionclosed: (sessionId) => {
        pool.forget(sessionId);
        ending.abort();
      },
    });
    async function close(): Promise<void> {
      ending.abort();
      await transport.close().catch(() => undefined);
      await server.close().catch(() => undefined);
    }
    transport.onclose = () => {
      ending.abort();
      if (transport.sessionId) pool.forget(transport.sessionId);
    };
    try {
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    } finally {
      // Registered by now, or never will be (a bad initialize).
      admission.release();
      if (!id) await close();
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const verdict = guard(req);
    if (!verdict.ok) return sendJsonRpcError(res, verdict.status, -32000, verdict.message, verdict.headers);
    const method = req.method ?? 'GET';
    if (!['GET', 'POST', 'DELETE'].includes(method)) return sendJsonRpcError(res, 405, -32000, `Method ${method} not allowed.`, { allow: 'GET, POST, DELETE' });

    let body: unknown;
    if (method === 'POST') {
      const read = await readBody(req, maxBody);
      if (!read.ok) return sendJsonRpcError(res, 413, -32600, `Request body larger than ${maxBody} bytes.`);
      try {
        body = JSON.parse(read.text);
      } catch (err) {
        return sendJsonRpcError(res, 400, -32700, `Parse error: ${(err as Error).message}`);
      }
    }
    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const session = pool.use(sessionId, verdict.principalKey);
      if (!session) return sendJsonRpcError(res, 404, -32001, 'Session not found: initialize a new session.');
      return session.handle(req, res, body);
    }
    if (method === 'POST' && isInitializeRequest(body)) return open(res, req, body, verdict.principal, verdict.principalKey);
    return sendJsonRpcError(res, 400, -32000, 'Bad Request: no valid Mcp-Session-Id header; start with an initialize request.');
  }

  return {
    handle: (req, res) =>
      handle(req, res).catch((err: unknown) => {
        logger.error('MCP HTTP request failed', { error: err });
        sendJsonRpcError(res, 500, -32603, 'Internal error');
      }),
    sessionCount: () => pool.size,
    sweep: () => pool.sweep(),
    async close() {
      clearInterval(sweeper);
      await pool.closeAll();
    },
  };
}

function readBody(req: http.IncomingMessage, limit: number): Promise<{ ok: true; text: string } | { ok: false }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? { ok: false } : { ok: true, text: Buffer.concat(chunks).toString('utf8') }));
    req.on('error', reject);
  });
}

export interface HttpHost {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A node:http server dispatching by exact path; 404 for anything else. */
export async function listenHttp(opts: { host: string; port: number; routes: Record<string, Route>; logger: Logger }): Promise<HttpHost> {
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = opts.routes[path];
    if (!route) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: `No route ${path}. Try ${Object.keys(opts.routes).join(', ')}.` }));
    }
    Promise.resolve(route(req, res)).catch((err: unknown) => {
      opts.logger.error('HTTP route failed', { path, error: err });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'internal error' }));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shown = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${shown}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        for (const s of sockets) s.destroy();
      }),
  };
}
