/**
 * Slack's Socket Mode side of the fake: `apps.connections.open` hands out ws://127.0.0.1 URLs served
 * here; a connection gets `hello`, protocol pings, and envelopes (`events_api`, `interactive`,
 * `slash_commands`) whose acks (`{ envelope_id, payload }`) the test can await.
 */
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

export interface SocketAck {
  envelope_id: string;
  payload?: unknown;
}

export class FakeSocketMode {
  readonly #wss: WebSocketServer;
  readonly #tickets = new Set<string>();
  readonly #conns = new Set<WebSocket>();
  readonly #acks = new Map<string, (ack: SocketAck) => void>();
  readonly acks: SocketAck[] = [];
  pings = 0;
  #connected: (() => void)[] = [];

  constructor(server: http.Server, private readonly opts: { appId: string }) {
    this.#wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const ticket = u.searchParams.get('ticket');
      if (u.pathname !== '/link/' || !ticket || !this.#tickets.delete(ticket)) return void socket.destroy();
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws));
    });
  }

  newUrl(httpBase: string): string {
    const ticket = randomUUID();
    this.#tickets.add(ticket);
    return `${httpBase.replace(/^http/, 'ws')}/link/?ticket=${ticket}&app_id=${this.opts.appId}`;
  }

  get connections(): number {
    return this.#conns.size;
  }

  /** Resolves once a client is connected (and got its hello). */
  waitForConnection(): Promise<void> {
    if (this.#conns.size > 0) return Promise.resolve();
    return new Promise((r) => this.#connected.push(r));
  }

  /** Sends an envelope to the connected client and resolves with its ack. */
  send(type: 'events_api' | 'interactive' | 'slash_commands', payload: unknown, opts: { retryAttempt?: number; envelopeId?: string } = {}): Promise<SocketAck> {
    const ws = [...this.#conns][0];
    if (!ws) throw new Error('no Socket Mode client connected');
    const envelope_id = opts.envelopeId ?? randomUUID();
    const acked = new Promise<SocketAck>((r) => this.#acks.set(envelope_id, r));
    ws.send(JSON.stringify({ envelope_id, payload, type, accepts_response_payload: type !== 'events_api', ...(type === 'events_api' ? { retry_attempt: opts.retryAttempt ?? 0, retry_reason: opts.retryAttempt ? 'timeout' : '' } : {}) }));
    return acked;
  }

  /** A protocol-level ping, as Slack's server sends them. */
  ping(): void {
    for (const ws of this.#conns) ws.ping();
  }

  close(): void {
    for (const ws of this.#conns) ws.terminate();
    this.#wss.close();
  }

  #accept(ws: WebSocket) {
    this.#conns.add(ws);
    ws.on('close', () => this.#conns.delete(ws));
    ws.on('pong', () => this.pings++);
    ws.on('message', (data) => {
      const ack = JSON.parse(String(data)) as SocketAck;
      this.acks.push(ack);
      this.#acks.get(ack.envelope_id)?.(ack);
      this.#acks.delete(ack.envelope_id);
    });
    ws.send(JSON.stringify({ type: 'hello', num_connections: this.#conns.size, debug_info: { host: 'fake', approximate_connection_time: 3600 }, connection_info: { app_id: this.opts.appId } }));
    for (const r of this.#connected.splice(0)) r();
  }
}
