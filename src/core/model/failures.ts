/** What went wrong with a model call, whether retrying can help, and how long to wait. */
import type * as OpenAISdk from 'openai';

export type Sdk = typeof OpenAISdk;

/** The stream went silent for longer than the timeout. */
export class StreamIdleTimeout extends Error {}

/**
 * The connection broke while the answer's body was being read (our own request path; fetch says
 * `TypeError: terminated`). `cause` is the socket's error.
 */
export class ConnectionLost extends Error {
  constructor(cause: unknown) {
    super('terminated', { cause });
  }
}

/**
 * A 200 answer that is not a whole chat completion: a stream cut before the model finished, an
 * HTML page, JSON of another kind, an empty body, a chunk of the wrong shape. Retried like a
 * transient error unless retrying cannot help (a content filter, an answer cut at the token limit).
 * `message` completes "Model API at <url> …"; `hint` says what to check.
 */
export class BadResponse extends Error {
  constructor(
    message: string,
    readonly opts: { retryable?: boolean; hint?: string } = {},
  ) {
    super(message);
  }
}

/** No response headers within the timeout (our request path; the SDK says APIConnectionTimeoutError). */
export class HeadersTimeout extends Error {
  constructor() {
    super('request timed out');
  }
}

/** The connection failed before any response (our request path; the SDK says APIConnectionError). */
export class ConnectFailed extends Error {
  constructor(cause: unknown) {
    super('Connection error.', { cause });
  }
}

/**
 * An error the server reported inside a 200 answer (OpenAI, LiteLLM, vLLM do this), with the
 * message the SDK's status-less APIError would have.
 */
export class ErrorInAnswer extends Error {
  constructor(readonly error: unknown) {
    const msg = (error as { message?: unknown } | null | undefined)?.message;
    super(msg ? (typeof msg === 'string' ? msg : JSON.stringify(msg)) : error ? JSON.stringify(error) : '(no status code or body)');
  }
}

export interface Failure {
  kind: 'http' | 'connection' | 'timeout' | 'stream' | 'response' | 'unexpected';
  retryable: boolean;
  status?: number;
  message: string;
  /** For `response`: what the user could check, a sentence of our own. */
  hint?: string;
  retryAfterMs?: number;
  /**
   * The server closed the connection before sending a byte of its answer: on a kept-alive socket,
   * usually a race with the server's idle timeout, so worth one immediate retry.
   */
  closedEarly?: boolean;
}

export function retryAfterMs(headers: Headers | undefined): number | undefined {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers?.get('retry-after');
  if (!raw) return undefined;
  const seconds = Number.parseFloat(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export const RETRY_STATUS = (s: number): boolean => s === 408 || s === 409 || s === 429 || s >= 500;

function serverMessage(err: unknown): string {
  const body = (err as { error?: unknown }).error;
  const fromBody = body && typeof body === 'object' ? (body as { message?: unknown }).message : undefined;
  if (typeof fromBody === 'string' && fromBody) return fromBody;
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^\d{3}\s+/, '');
}

function causeText(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  const inner = cause instanceof Error ? (cause as { cause?: unknown }).cause : undefined;
  const deepest = inner instanceof Error ? inner : cause instanceof Error ? cause : err;
  const code = (deepest as { code?: unknown }).code;
  const msg = deepest instanceof Error ? deepest.message : String(deepest);
  return typeof code === 'string' && !msg.includes(code) ? `${msg} (${code})` : msg;
}

const SOCKET_CLOSED = /^(UND_ERR_SOCKET|ECONNRESET|EPIPE)$/;

/** undici's `other side closed` (UND_ERR_SOCKET) or a reset, anywhere in the cause chain. */
function closedBySocket(err: unknown): boolean {
  let e = (err as { cause?: unknown }).cause;
  for (let depth = 0; e instanceof Error && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if ((typeof code === 'string' && SOCKET_CLOSED.test(code)) || /other side closed/i.test(e.message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export function classify(sdk: Sdk, err: unknown): Failure {
  if (err instanceof BadResponse) {
    return { kind: 'response', retryable: err.opts.retryable ?? true, message: err.message, ...(err.opts.hint ? { hint: err.opts.hint } : {}) };
  }
  if (err instanceof StreamIdleTimeout) return { kind: 'timeout', retryable: true, message: err.message };
  if (err instanceof ConnectionLost) return { kind: 'connection', retryable: true, message: causeText(err) };
  if (err instanceof HeadersTimeout) return { kind: 'timeout', retryable: true, message: err.message };
  if (err instanceof ConnectFailed) {
    return { kind: 'connection', retryable: true, message: causeText(err), ...(closedBySocket(err) ? { closedEarly: true } : {}) };
  }
  if (err instanceof ErrorInAnswer) return { kind: 'stream', retryable: true, message: serverMessage(err) };
  if (err instanceof sdk.APIConnectionTimeoutError) return { kind: 'timeout', retryable: true, message: 'request timed out' };
  if (err instanceof sdk.APIConnectionError) {
    // The SDK throws this only when fetch fails, that is before the response's headers.
    return { kind: 'connection', retryable: true, message: causeText(err), ...(closedBySocket(err) ? { closedEarly: true } : {}) };
  }
  if (err instanceof sdk.APIError) {
    if (typeof err.status !== 'number') return { kind: 'stream', retryable: true, message: serverMessage(err) };
    const hint = err.headers?.get('x-should-retry');
    const retryable = hint === 'true' ? true : hint === 'false' ? false : RETRY_STATUS(err.status);
    const wait = retryAfterMs(err.headers);
    return { kind: 'http', retryable, status: err.status, message: serverMessage(err), ...(wait !== undefined ? { retryAfterMs: wait } : {}) };
  }
  // undici reports a connection dropped mid-body as `TypeError: terminated`.
  if (err instanceof TypeError && /terminated|fetch failed|socket|ECONNRESET/i.test(`${err.message} ${causeText(err)}`)) {
    return { kind: 'connection', retryable: true, message: causeText(err) };
  }
  if (err instanceof SyntaxError) return { kind: 'stream', retryable: true, message: `unreadable stream data (${err.message})` };
  return { kind: 'unexpected', retryable: false, message: err instanceof Error ? err.message : String(err) };
}

export function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** True for what `chat`/`generateImage` throw when their signal is aborted. */
export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'APIUserAbortError');
}

export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

