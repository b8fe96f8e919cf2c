/**
 * The stdio transport of `switchboard mcp`, with a fast path for cold start.
 *
 * Loading the MCP SDK costs a couple of hundred milliseconds, most of it before a host gets its
 * first `tools/list`. So until the SDK server is attached, this transport answers the opening
 * moves itself — `initialize`, `notifications/initialized`, `ping`, `tools/list` — from the same
 * catalog the SDK server registers, and queues anything else. When the SDK server attaches it
 * replays the client's `initialize` (its answer swallowed, so the server learns the client's
 * capabilities) and the queue, in order; from then on it is a plain newline-delimited JSON-RPC
 * transport. Malformed input gets a JSON-RPC error and the stream goes on.
 *
 * No runtime import of the SDK here: only its types.
 */
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** The id the replayed `initialize` carries; the SDK server's answer to it is dropped. */
export const REPLAYED_INITIALIZE_ID = 'switchboard:replayed-initialize';
const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;
/**
 * After stdin ends, requests already read get this long to be answered before the transport closes.
 * A backstop only: the tools hand back what they wait for as soon as `onEnd` fires (see stdio.ts).
 */
const END_GRACE_MS = 5_000;

export interface FastPath {
  initialize(params: Record<string, unknown> | undefined): Record<string, unknown>;
  listTools(): Record<string, unknown>;
}

export interface StdioFrontOptions {
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
  fast: FastPath;
  /** Called (once is enough; later calls are ignored by the caller) when the SDK server is needed. */
  needEngine: () => void;
  /** Stdin ended (or `end()` was called): requests in flight should answer now. */
  onEnd?: () => void;
  maxLineBytes?: number;
}

type Json = Record<string, unknown>;
type Checked = { ok: true; message: Json } | { ok: false; id: string | number | null; code: number; message: string };

/** Checks the JSON-RPC 2.0 envelope; the SDK validates the rest. */
export function checkEnvelope(value: unknown): Checked {
  if (Array.isArray(value)) return { ok: false, id: null, code: -32600, message: 'Invalid Request: JSON-RPC batches are not supported by MCP; send one message per line.' };
  if (!value || typeof value !== 'object') return { ok: false, id: null, code: -32600, message: 'Invalid Request: a JSON-RPC message must be an object.' };
  const m = value as Json;
  const id = typeof m.id === 'string' || typeof m.id === 'number' ? m.id : null;
  if (m.jsonrpc !== '2.0') return { ok: false, id, code: -32600, message: 'Invalid Request: "jsonrpc" must be "2.0".' };
  if ('id' in m && id === null) return { ok: false, id: null, code: -32600, message: 'Invalid Request: "id" must be a string or a number.' };
  if ('method' in m) {
    if (typeof m.method !== 'string' || m.method === '') return { ok: false, id, code: -32600, message: 'Invalid Request: "method" must be a non-empty string.' };
    if ('params' in m && (m.params === null || typeof m.params !== 'object' || Array.isArray(m.params))) {
      return { ok: false, id, code: -32602, message: 'Invalid params: "params" must be an object.' };
    }
    return { ok: true, message: m };
  }
  if (id !== null && ('result' in m || 'error' in m)) return { ok: true, message: m };
  return { ok: false, id, code: -32600, message: 'Invalid Request: a message needs a "method", or an "id" with a "result" or "error".' };
}

export class StdioFront implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;

  readonly #stdin: NodeJS.ReadableStream;
  readonly #stdout: NodeJS.WritableStream;
  readonly #fast: FastPath;
  readonly #needEngine: () => void;
  readonly #onEndHook: (() => void) | undefined;
  readonly #maxLineBytes: number;
  readonly #closeListeners: (() => void)[] = [];
  #chunks: Buffer[] = [];
  #size = 0;
  #attached = false;
  #closed = false;
  #queue: Json[] = [];
  #initialize: Json | null = null;
  #initialized: Json | null = null;
  /** Requests read and not answered yet (queued or with the SDK server). */
  readonly #inflight = new Set<string | number>();
  #ending: NodeJS.Timeout | null = null;
  readonly #onData = (chunk: Buffer | string) => this.#read(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  /** The host is gone or done writing: answer what was asked (a piped script waits for it), then close. */
  readonly #onEnd = () => this.end();
  readonly #onError = (err: Error) => this.onerror?.(err);

  constructor(opts: StdioFrontOptions) {
    this.#stdin = opts.stdin ?? process.stdin;
    this.#stdout = opts.stdout ?? process.stdout;
    this.#fast = opts.fast;
    this.#needEngine = opts.needEngine;
    this.#onEndHook = opts.onEnd;
    this.#maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  }

  /** Starts reading stdin (before any SDK server exists). */
  listen(): void {
    this.#stdin.on('data', this.#onData);
    this.#stdin.on('end', this.#onEnd);
    this.#stdin.on('error', this.#onError);
  }

  /**
   * Stops reading and closes once every request already read is answered (or after a grace period).
   * What stdin ending does; `switchboard mcp` calls it on SIGTERM too.
   */
  end(): void {
    if (this.#ending || this.#closed) return;
    this.#stdin.off('data', this.#onData);
    this.#ending = setTimeout(() => void this.close(), END_GRACE_MS);
    this.#onEndHook?.();
    if (this.#queue.length) this.#needEngine();
    this.#finishIfDone();
  }

  /** Called by `McpServer.connect`; reading started in `listen`. */
  async start(): Promise<void> {}

  /** Runs when the transport closes (stdin ended or `close()`), whoever owns `onclose`. */
  onClosed(listener: () => void): void {
    this.#closeListeners.push(listener);
  }

  /** The SDK server is connected: replay the handshake and everything queued, then pass through. */
  attached(): void {
    this.#attached = true;
    if (this.#initialize) this.onmessage?.({ ...this.#initialize, id: REPLAYED_INITIALIZE_ID } as JSONRPCMessage);
    if (this.#initialized) this.onmessage?.(this.#initialized as JSONRPCMessage);
    for (const m of this.#queue.splice(0)) this.onmessage?.(m as JSONRPCMessage);
  }

  get isAttached(): boolean {
    return this.#attached;
  }

  async send(message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    const isResponse = 'id' in message && !('method' in message);
    if (isResponse && message.id === REPLAYED_INITIALIZE_ID) return;
    await this.#write(message);
    if (isResponse) {
      this.#inflight.delete(message.id as string | number);
      this.#finishIfDone();
    }
  }

  #finishIfDone(): void {
    if (this.#ending && this.#inflight.size === 0 && this.#queue.length === 0) void this.close();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ending) clearTimeout(this.#ending);
    this.#stdin.off('data', this.#onData);
    this.#stdin.off('end', this.#onEnd);
    this.#stdin.off('error', this.#onError);
    if (this.#stdin.listenerCount('data') === 0) this.#stdin.pause();
    this.#chunks = [];
    this.onclose?.();
    for (const l of this.#closeListeners) l();
  }

  #write(message: unknown): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const line = JSON.stringify(message) + '\n';
    return new Promise((resolve) => {
      if (this.#stdout.write(line)) resolve();
      else this.#stdout.once('drain', () => resolve());
    });
  }

  #read(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      this.#chunks.push(chunk.subarray(start, nl));
      const line = Buffer.concat(this.#chunks).toString('utf8').replace(/\r$/, '');
      this.#chunks = [];
      this.#size = 0;
      start = nl + 1;
      if (line.trim() !== '') this.#line(line);
    }
    if (start < chunk.length) {
      this.#size += chunk.length - start;
      if (this.#size > this.#maxLineBytes) {
        this.#chunks = [];
        this.#size = 0;
        void this.#write({ jsonrpc: '2.0', id: null, error: { code: -32600, message: `Invalid Request: message longer than ${this.#maxLineBytes} bytes.` } });
        return;
      }
      this.#chunks.push(chunk.subarray(start));
    }
  }

  #line(line: string): void {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      void this.#write({ jsonrpc: '2.0', id: null, error: { code: -32700, message: `Parse error: ${(err as Error).message}` } });
      return;
    }
    const checked = checkEnvelope(value);
    if (!checked.ok) {
      // Answer requests; a broken notification or response has nobody to answer.
      if (checked.id !== null || !(value && typeof value === 'object' && 'method' in value && !('id' in value))) {
        void this.#write({ jsonrpc: '2.0', id: checked.id, error: { code: checked.code, message: checked.message } });
      }
      return;
    }
    this.#dispatch(checked.message);
  }

  #dispatch(m: Json): void {
    if ('id' in m && 'method' in m) this.#inflight.add(m.id as string | number);
    if (this.#attached) {
      this.onmessage?.(m as JSONRPCMessage);
      return;
    }
    if (this.#queue.length === 0 && this.#answerFast(m)) return;
    this.#queue.push(m);
    this.#needEngine();
  }

  /** The opening moves; anything else waits for the SDK server. */
  #answerFast(m: Json): boolean {
    const params = m.params as Json | undefined;
    const isRequest = 'id' in m;
    const answer = (result: unknown) => {
      this.#inflight.delete(m.id as string | number);
      return this.#write({ jsonrpc: '2.0', id: m.id, result });
    };
    if (isRequest && m.method === 'initialize' && !this.#initialize) {
      this.#initialize = m;
      void answer(this.#fast.initialize(params));
      return true;
    }
    if (!isRequest && m.method === 'notifications/initialized' && this.#initialize && !this.#initialized) {
      this.#initialized = m;
      return true;
    }
    if (isRequest && m.method === 'ping') {
      void answer({});
      return true;
    }
    if (isRequest && m.method === 'tools/list' && !params?.cursor) {
      void answer(this.#fast.listTools()).then(() => this.#needEngine());
      return true;
    }
    return false;
  }
}
