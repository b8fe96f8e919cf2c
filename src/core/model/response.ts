/**
 * Reads one 200 answer to a streaming chat request into an assistant turn — or says why it is not
 * one, so that a broken answer is retried or fails the run instead of being stored as a reply.
 *
 * When is a streamed answer whole? The model says so with a `finish_reason` on its choice. OpenAI
 * and Azure OpenAI send it in the last content chunk, then (with `include_usage`) a usage chunk
 * with no choices, then `data: [DONE]`; vLLM, Ollama and LiteLLM do the same. Some compatible
 * servers leave out `[DONE]` and just close the stream; a few gateways never send a finish_reason
 * but do send `[DONE]`. So an answer is whole when it has a finish_reason *or* ended with `[DONE]`
 * (which a cut connection cannot forge); a stream that ends with neither was cut. An empty
 * finish_reason ("" on every chunk, as older Ollama and SGLang sent) is not one.
 *
 * Finish reasons: `stop` and `tool_calls` end a turn; `length` (the output token limit) is kept as
 * an answer with a warning, unless it cut a tool call's arguments (then the call fails: the model
 * needs more output tokens); `content_filter` fails without a retry (the answer was withheld);
 * `error` and `abort` (sent by some servers when generation failed) fail and are retried.
 */
import type { Logger } from '../logger.js';
import { IdleReader, type Answer } from './body.js';
import { abortError, BadResponse, ConnectionLost, ErrorInAnswer, StreamIdleTimeout } from './failures.js';
import type { ChatResult } from './types.js';
import { ChunkSchema, CompletionSchema, SseDecoder, TurnAccumulator, type Chunk } from './wire.js';

export interface ReadOptions {
  /** The longest silence inside the body. */
  timeoutMs: number;
  signal: AbortSignal | undefined;
  onText: (text: string) => void;
  logger: Logger;
  /** The model asked for, when the answer names none. */
  model: string;
}

type Turn = Omit<ChatResult, 'latencyMs'>;

/** A JSON answer, or the start of a page we show in the error, is read up to this size. */
const MAX_JSON_BYTES = 4 * 1024 * 1024;
const PREVIEW_BYTES = 16 * 1024;
/** A "stream" this long without a single event is not one. */
const MAX_BYTES_BEFORE_EVENT = 1024 * 1024;

const BASE_URL_HINT = 'Is the base URL right (for OpenAI-compatible servers it usually ends in /v1)?';

export async function readChatResponse(response: Answer, o: ReadOptions): Promise<Turn> {
  const type = response.contentType;
  if (!response.body) throw new BadResponse('answered 200 with an empty body');
  const body = new IdleReader(response.body, o.timeoutMs);
  try {
    if (type.includes('text/event-stream')) return await readStream(body, o);
    if (type.includes('json')) return await readJson(body, o);
    const head = await body.readText(PREVIEW_BYTES);
    if (!head.text.trim()) throw new BadResponse('answered 200 with an empty body');
    throw new BadResponse(`answered 200 with ${describeBody(type, head.text)} instead of an event stream`, { hint: BASE_URL_HINT });
  } catch (err) {
    if (o.signal?.aborted) throw abortError(o.signal);
    throw err;
  } finally {
    body.close();
  }
}

async function readStream(body: IdleReader, o: ReadOptions): Promise<Turn> {
  const sse = new SseDecoder();
  const turn = new TurnAccumulator();
  let events = 0;
  let received = 0;
  let head = '';
  let done = false;
  /** A connection lost mid-body: undici's fetch says `TypeError: terminated`, our path ConnectionLost. */
  let lost: TypeError | ConnectionLost | undefined;
  read: for (;;) {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await body.read();
    } catch (err) {
      if (!(err instanceof TypeError || err instanceof ConnectionLost) || o.signal?.aborted) throw err;
      lost = err;
      break;
    }
    if (!bytes) break;
    if (done) continue; // after [DONE]: read to the end, so the connection can be kept alive
    if (events === 0) {
      received += bytes.length;
      if (head.length < 200) head += new TextDecoder().decode(bytes.subarray(0, 200));
      if (received > MAX_BYTES_BEFORE_EVENT) break;
    }
    for (const data of sse.push(bytes)) {
      events++;
      if (data.startsWith('[DONE]')) {
        done = true;
        break;
      }
      const chunk = parseChunk(data);
      if (chunk === null) continue;
      // An error reported inside a 200 stream (the SDK throws it as a status-less APIError).
      if (chunk.error) throw new ErrorInAnswer(chunk.error);
      if (o.signal?.aborted) break read;
      const text = turn.add(chunk);
      if (text) o.onText(text);
    }
  }
  if (lost && !o.signal?.aborted) {
    // The model had finished: only the tail (usage, [DONE]) was lost with the connection.
    if (turn.finishReason) {
      o.logger.debug('model stream broke after the answer was complete; keeping it', { finishReason: turn.finishReason });
      return finish(turn, true, o);
    }
    const why = lost.cause instanceof Error ? lost.cause.message : lost.message;
    throw new BadResponse(`ended the stream before the answer was complete (the connection was lost: ${why})`);
  }
  if (o.signal?.aborted) throw abortError(o.signal);
  if (body.idle && !turn.finishReason) throw new StreamIdleTimeout(`the stream was silent for ${o.timeoutMs} ms`);
  // No event at all, and not even SSE comments or fields (a stream of `: ping` only was merely cut).
  if (events === 0 && !/^(:|data|event|id|retry)/.test(head.trimStart())) {
    if (!head.trim()) throw new BadResponse('answered 200 with an empty event stream');
    throw new BadResponse(`answered 200 with ${describeBody('', head)} instead of server-sent events`, { hint: BASE_URL_HINT });
  }
  return finish(turn, done, o);
}

async function readJson(body: IdleReader, o: ReadOptions): Promise<Turn> {
  const { text, truncated } = await body.readText(MAX_JSON_BYTES);
  if (body.idle) throw new StreamIdleTimeout(`the answer was silent for ${o.timeoutMs} ms`);
  if (!text.trim()) throw new BadResponse('answered 200 with an empty body');
  if (truncated) throw new BadResponse(`answered 200 with more than ${MAX_JSON_BYTES} bytes of JSON instead of an event stream`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadResponse(`answered 200 with ${describeBody('', text)} labelled as JSON instead of an event stream`, { hint: BASE_URL_HINT });
  }
  const error = value && typeof value === 'object' ? (value as { error?: unknown }).error : undefined;
  if (error) throw new ErrorInAnswer(error);
  // A server that ignores `stream: true` and sends the whole completion: as good as a stream.
  const parsed = CompletionSchema.safeParse(value);
  if (!parsed.success) {
    throw new BadResponse(`answered 200 with JSON that is not a chat completion (${preview(text, 80)})`, { hint: BASE_URL_HINT });
  }
  const turn = new TurnAccumulator();
  const said = turn.addCompletion(parsed.data);
  if (said) o.onText(said);
  return finish(turn, true, o);
}

/** One `data:` payload as a chunk; null for JSON null or a non-object the SDK would also skip. */
function parseChunk(data: string): Chunk | null {
  const value: unknown = JSON.parse(data); // a SyntaxError is classified as unreadable stream data
  if (value === null || typeof value !== 'object') return null;
  if (isPlainTextChunk(value)) return value;
  const parsed = ChunkSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  throw new BadResponse(`sent a chunk that is not a chat completion chunk (${where}${issue.message})`);
}

/**
 * The chunk nearly every event is — text for choice 0, no tool calls, no usage — checked by hand:
 * it passes ChunkSchema as it is, in a fifth of the time zod takes. Anything else goes to zod.
 */
function isPlainTextChunk(v: object): v is Chunk {
  const { choices, model, usage, error } = v as Record<string, unknown>;
  if (usage != null || error !== undefined || (model != null && typeof model !== 'string') || !Array.isArray(choices)) return false;
  for (const choice of choices as unknown[]) {
    if (choice === null || typeof choice !== 'object') return false;
    const { index, delta, finish_reason } = choice as Record<string, unknown>;
    if ((index != null && typeof index !== 'number') || (finish_reason != null && typeof finish_reason !== 'string')) return false;
    if (delta == null) continue;
    if (typeof delta !== 'object') return false;
    const { content, tool_calls } = delta as Record<string, unknown>;
    if (tool_calls != null || (content != null && typeof content !== 'string')) return false;
  }
  return true;
}

/** The checks of the module comment; `done` is whether the body ended with [DONE] (or was whole JSON). */
function finish(turn: TurnAccumulator, done: boolean, o: ReadOptions): Turn {
  const reason = turn.finishReason;
  if (!reason) {
    const cut = turn.unparsableToolCall();
    const inCall = cut ? `; the arguments of its ${cut.name || 'tool'} call were cut off` : '';
    if (!done) throw new BadResponse(`ended the stream before the answer was complete (no finish_reason, no [DONE]${inCall})`);
    if (cut) throw new BadResponse(`ended the stream in the middle of the arguments of a ${cut.name || 'tool'} call (no finish_reason)`);
  } else if (reason === 'length') {
    const cut = turn.unparsableToolCall();
    if (cut) {
      throw new BadResponse(`stopped at the model's output token limit (finish_reason: length) in the middle of the arguments of a ${cut.name || 'tool'} call`, {
        retryable: false,
        hint: 'Give the model a larger output limit, or ask for less at once.',
      });
    }
    o.logger.warn("model answer stopped at the model's output token limit (finish_reason: length); it may be cut short", { model: o.model });
  } else if (reason === 'content_filter') {
    throw new BadResponse('withheld the answer: its content filter stopped it (finish_reason: content_filter)', {
      retryable: false,
      hint: 'Rephrase the request, or check the content filter settings of the deployment.',
    });
  } else if (reason === 'error' || reason === 'abort') {
    throw new BadResponse(`stopped the answer with finish_reason: ${reason}`);
  }
  return turn.result(o.model);
}

function preview(text: string, max: number): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** "an HTML page ("Sign in")", or the content type and the start of the body. */
function describeBody(type: string, text: string): string {
  const start = text.trimStart();
  if (type.includes('html') || /^<(!doctype|html|head|body)\b/i.test(start)) {
    const title = /<title[^>]*>([^<]*)<\/title>/i.exec(text)?.[1];
    return `an HTML page${title?.trim() ? ` ("${preview(title, 60)}")` : ''}`;
  }
  const what = type ? type.split(';')[0]!.trim() : 'a body';
  return `${what} ("${preview(text, 60)}")`;
}
