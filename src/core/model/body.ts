/**
 * An answer's status, headers and body, whichever way it was fetched: over our own kept-alive
 * connection (a node:http response, see http.ts) or through a `fetch` (a WHATWG Response, when the
 * SDK sends the request). response.ts reads either through these few methods.
 */
import type { IncomingMessage } from 'node:http';
import { ConnectionLost } from './failures.js';

/** A body read chunk by chunk; `undefined` at the end. */
export interface ByteSource {
  read(): Promise<Uint8Array | undefined>;
  /** Stops reading: a pending read() ends with undefined, the connection is not reused. */
  cancel(): void;
}

export interface Answer {
  status: number;
  /** Lower case, '' when absent. */
  contentType: string;
  /** As a WHATWG Headers (what the SDK's errors carry); built only when asked for. */
  headers(): Headers;
  body: ByteSource | null;
}

/** A fetch Response as an Answer. */
export function fetchAnswer(response: Response): Answer {
  const stream = response.body;
  let body: ByteSource | null = null;
  if (stream) {
    const reader = stream.getReader();
    body = {
      read: async () => {
        const { value, done } = await reader.read();
        return done ? undefined : value;
      },
      cancel: () => void reader.cancel().catch(() => {}),
    };
  }
  return {
    status: response.status,
    contentType: (response.headers.get('content-type') ?? '').toLowerCase(),
    headers: () => response.headers,
    body,
  };
}

/** Chunks a node:http response buffers before it is paused (the reader is slower than the socket). */
const HIGH_WATER = 32;

/**
 * A node:http response as a ByteSource, without a stream per read: chunks queue up in a plain
 * array and each read() takes one. A connection lost before the end rejects the read with a
 * ConnectionLost; `onDone` runs once the body ended, failed or was cancelled.
 */
export class NodeBody implements ByteSource {
  readonly #res: IncomingMessage;
  readonly #chunks: Buffer[] = [];
  #waiter: { resolve: (b: Uint8Array | undefined) => void; reject: (e: unknown) => void } | undefined;
  #ended = false;
  #error: unknown;
  #onDone: () => void;

  constructor(res: IncomingMessage, onDone: () => void) {
    this.#res = res;
    this.#onDone = onDone;
    res.on('data', (chunk: Buffer) => {
      const w = this.#waiter;
      if (w) {
        this.#waiter = undefined;
        w.resolve(chunk);
        return;
      }
      this.#chunks.push(chunk);
      if (this.#chunks.length >= HIGH_WATER) res.pause();
    });
    res.on('end', () => this.#finish(undefined));
    res.on('error', (err) => this.#finish(new ConnectionLost(err)));
    // Closed without 'end' (a reset socket, our own destroy): the body is incomplete.
    res.on('close', () => this.#finish(res.complete ? undefined : new ConnectionLost(new ConnectionClosed())));
  }

  #finish(error: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    this.#onDone();
    const w = this.#waiter;
    this.#waiter = undefined;
    if (!w) return;
    if (error === undefined || this.#chunks.length > 0) w.resolve(this.#chunks.shift());
    else w.reject(error);
  }

  read(): Promise<Uint8Array | undefined> {
    const chunk = this.#chunks.shift();
    if (chunk) {
      if (this.#chunks.length < HIGH_WATER / 2 && this.#res.isPaused() && !this.#ended) this.#res.resume();
      return Promise.resolve(chunk);
    }
    if (this.#ended) return this.#error === undefined ? Promise.resolve(undefined) : Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
      if (this.#res.isPaused()) this.#res.resume();
    });
  }

  /** Fails the body with `error` (an abort) and drops the connection. */
  fail(error: unknown): void {
    this.#chunks.length = 0;
    this.#finish(error);
    this.#res.destroy();
  }

  cancel(): void {
    if (this.#ended) return;
    this.#chunks.length = 0;
    this.#finish(undefined);
    this.#res.destroy();
  }
}

/** The `cause` of a ConnectionLost when the socket closed with no error of its own. */
class ConnectionClosed extends Error {
  constructor() {
    super('other side closed');
  }
}

/**
 * A body reader that gives up when the body stays silent for `timeoutMs` (the request's own timeout
 * ends when the headers arrive). One timer per body: reads only note their time; when the timer
 * fires early it waits out the rest.
 */
export class IdleReader {
  readonly #source: ByteSource;
  readonly #timeoutMs: number;
  #last = performance.now();
  #timer: NodeJS.Timeout;
  #ended = false;
  /** The body was cancelled for silence; read() then returns undefined. */
  idle = false;

  constructor(source: ByteSource, timeoutMs: number) {
    this.#source = source;
    this.#timeoutMs = timeoutMs;
    this.#timer = setTimeout(this.#check, timeoutMs);
  }

  #check = (): void => {
    const left = this.#last + this.#timeoutMs - performance.now();
    if (left > 0) {
      this.#timer = setTimeout(this.#check, left);
      return;
    }
    this.idle = true;
    this.#source.cancel();
  };

  /** The next bytes, or undefined at the end (or when cancelled for silence). */
  async read(): Promise<Uint8Array | undefined> {
    const value = await this.#source.read();
    if (value === undefined) {
      this.#ended = true;
      return undefined;
    }
    this.#last = performance.now();
    return value;
  }

  /** Up to `max` bytes as text; `truncated` when the body was longer. */
  async readText(max: number): Promise<{ text: string; truncated: boolean }> {
    const decoder = new TextDecoder();
    let text = '';
    let size = 0;
    for (let bytes = await this.read(); bytes; bytes = await this.read()) {
      size += bytes.length;
      text += decoder.decode(bytes, { stream: true });
      if (size > max) return { text, truncated: true };
    }
    return { text: text + decoder.decode(), truncated: false };
  }

  close(): void {
    clearTimeout(this.#timer);
    if (!this.#ended) this.#source.cancel();
  }
}
