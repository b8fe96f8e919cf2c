/** The benchmarks' model script and the messages between a scenario and its model server process. */
import type { FakeChatRequest, FakeReply } from '../test/support/fake-openai.js';

export type FakeMode =
  /** The proxy delegates to the first specialist, then answers with its reply. */
  | 'delegate'
  /** The proxy delegates to every specialist in one turn, then answers. */
  | 'fanout'
  /** The proxy answers directly. */
  | 'direct';

export interface FakeSettings {
  mode: FakeMode;
  latencyMs: number;
  specialists: string[];
  /** Share of chat requests (0-1) answered 429 or 500 instead, spread evenly over the request sequence. */
  faultRate?: number;
}

/**
 * One chat request as the server saw it. Times are milliseconds since the epoch with sub-ms
 * precision (performance.timeOrigin + performance.now()), so the scenario process can put them on
 * its own timeline.
 */
export interface Span {
  /** The `[tag]` in the last user message, which the scenarios use to tell tasks apart. */
  tag: string | null;
  agent: string | null;
  arrival: number;
  finish: number;
  status: number;
}

/** Now, on the clock spans use. */
export const epochNow = (): number => performance.timeOrigin + performance.now();

export type FakeCommand =
  | { id: number; cmd: 'set'; settings: FakeSettings }
  | { id: number; cmd: 'collect' }
  | { id: number; cmd: 'cpu' }
  | { id: number; cmd: 'close' };

/** About forty words, streamed word by word like a model's tokens. */
export const REPLY_TEXT =
  'Here is a short answer of about forty words, streamed word by word the way a model sends its tokens, ' +
  'so that the client parses a realistic number of server-sent events for each call it makes to the model.';

const TAG_RE = /\[([A-Za-z0-9_-]+)\]/;
export const tagOf = (text: string | null): string | null => (text ? (TAG_RE.exec(text)?.[1] ?? null) : null);

/** The answer to one chat request under `settings`. */
export function scriptedReply(settings: FakeSettings, req: FakeChatRequest): FakeReply {
  const latencyMs = settings.latencyMs;
  if (settings.faultRate) {
    // The golden-ratio sequence hits exactly `faultRate` of requests, evenly, without randomness.
    const x = (req.seq * 0.6180339887498949) % 1;
    if (x < settings.faultRate) return req.seq % 2 ? { status: 429, error: 'Rate limit reached (bench)' } : { status: 500, error: 'The server had an error (bench)' };
  }
  const tag = tagOf(req.lastUserText);
  const label = tag ? `[${tag}] ` : '';
  if (req.agent !== 'proxy') return { content: `${label}${req.agent} says: ${REPLY_TEXT}`, latencyMs };
  if (req.toolResults.length > 0) {
    return { content: `${label}Done. ${req.toolResults.length} answer(s): ${REPLY_TEXT}`, latencyMs };
  }
  if (settings.mode === 'direct') return { content: `${label}${REPLY_TEXT}`, latencyMs };
  const recipients = settings.mode === 'delegate' ? settings.specialists.slice(0, 1) : settings.specialists;
  const message = `${label}Please handle this part: ${(req.lastUserText ?? '').replace(TAG_RE, '').trim()}`;
  return { toolCalls: recipients.map((recipient) => ({ name: 'send_message', arguments: { recipient, message } })), latencyMs };
}
