/**
 * MCP over Streamable HTTP at `/mcp`: one SDK session (McpServer + transport) per client, bound
 * to the principal that opened it. Host/Origin and bearer checks run before anything else (see
 * guard.ts). Sessions live in memory; conversations live in the store, so a restart loses only
 * the sessions (clients re-initialize, as the spec says they do on 404).
 *
 * `listenHttp` is the plain node:http host the `serve` command mounts routes on — `/mcp` and
 * `/healthz` now, the chat adapters' endpoints later.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Logger } from '../core/logger.js';
import type { McpDeps } from './context.js';
import { createGuard, type GuardOptions } from './guard.js';
import { createMcpServer } from './server.js';

export type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

export interface McpHttpOptions extends Omit<GuardOptions, 'tokens'> {
  /** Everything but the principal, which each session gets from its token. */
  deps: Omit<McpDeps, 'principal'>;
  tokens?: Record<string, string>;
  /** Sessions idle this long are closed (default 30 minutes). */
  sessionIdleMs?: number;
  /** Largest accepted request body (default: room for a message at the configured limit). */
  maxBodyBytes?: number;
}

export interface McpHttpHandler {
  handle: Route;
  sessionCount(): number;
  close(): Promise<void>;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  principalKey: string;
  lastSeen: number;
}

export function sendJsonRpcError(res: http.ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

export function createMcpHttpHandler(opts: McpHttpOptions): McpHttpHandler {
  const guard = createGuard({ ...opts, tokens: opts.tokens ?? opts.deps.config.mcp.tokens });
  const logger = opts.deps.logger;
  const sessions = new Map<string, Session>();
  const idleMs = opts.sessionIdleMs ?? 30 * 60_000;
  const maxBody = opts.maxBodyBytes ?? Math.max(1 << 20, opts.deps.config.limits.maxMessageChars * 4 + (64 << 10));

  const closeSession = async (id: string): Promise<void> => {
    const s = sessions.get(id);
    if (!s) return;
    sessions.delete(id);
    await s.transport.close().catch(() => undefined);
    await s.server.close().catch(() => undefined);
  };
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const [id, s] of sessions) if (now - s.lastSeen > idleMs) void closeSession(id);
  }, Math.min(idleMs, 60_000));
  sweeper.unref();

  async function open(res: http.ServerResponse, req: http.IncomingMessage, body: unknown, principal: McpDeps['principal'], principalKey: string) {
    const server = createMcpServer({ ...opts.deps, principal });
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server, principalKey, lastSeen: Date.now() });
        logger.debug('MCP session opened', { session: id, principal: principalKey });
      },
      onsessionclosed: (id) => void closeSession(id),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
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
      const session = sessions.get(sessionId);
      // Someone else's session is as unknown as a missing one.
      if (!session || session.principalKey !== verdict.principalKey) return sendJsonRpcError(res, 404, -32001, 'Session not found: initialize a new session.');
      session.lastSeen = Date.now();
      return session.transport.handleRequest(req, res, body);
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
    sessionCount: () => sessions.size,
    async close() {
      clearInterval(sweeper);
      await Promise.all([...sessions.keys()].map(closeSession));
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
