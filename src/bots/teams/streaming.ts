/**
 * A streamed reply in a personal chat, as Teams wants it: informative updates first (the blue
 * progress line), then the text as it grows — each update the whole text so far, at most one a second —
 * and a final message that ends the stream (attachments and cards only there). Teams ends a stream
 * after 2 minutes; we end it ourselves a little before and go on with normal messages. A 403 on an
 * update is the user's Stop: `onStopped` cancels the run.
 *
 * The stream fields travel both in the `streaminfo` entity and in `channelData`, as current Teams
 * libraries send them (adapter.ts makes the entity's fields survive botbuilder's serializer).
 */
import type { Activity } from 'botbuilder';
import { ConnectorCallError, type Target, type TeamsConnector } from './connector.js';
import { realClock, type Clock } from './limits.js';
import { firstPiece, MAX_MESSAGE_CHARS, sendLong } from './pieces.js';

export const AI_LABEL_ENTITY = {
  type: 'https://schema.org/Message',
  '@type': 'Message',
  '@context': 'https://schema.org',
  '@id': '',
  additionalType: ['AIGeneratedContent'],
};

export const STREAM_MIN_INTERVAL_MS = 1_000;
/** Teams' limit is 2 minutes; the margin leaves room for the final message. */
export const STREAM_MAX_MS = 115_000;
/** Informative text is capped at 1,000 characters by Teams. */
const MAX_INFORMATIVE = 1_000;

export interface StreamOptions {
  connector: TeamsConnector;
  target: Target;
  clock?: Clock;
  minIntervalMs?: number;
  maxDurationMs?: number;
  /** The user pressed Stop (Teams answered 403). */
  onStopped?: () => void;
  /** The stream was ended early (time limit, an approval wait, or Teams refused it); later text goes out as normal messages. */
  onEnded?: (why: 'time' | 'wait' | 'refused') => void;
}

/**
 * Teams answers 403 ContentStreamNotAllowed for several reasons (streaming not allowed, the 2-minute limit,
 * a message too large, a completed stream); only "Content stream was cancelled by user." is the user's Stop.
 */
export function isUserStop(err: unknown): boolean {
  return err instanceof ConnectorCallError && err.status === 403 && /cancell?ed by (the )?user/i.test(err.errorMessage ?? '');
}

const streamRefused = (err: unknown) => err instanceof ConnectorCallError && err.status === 403;

type Pending = { kind: 'informative' | 'streaming'; text: string };
export type StreamState = 'idle' | 'open' | 'ended' | 'stopped';

export class PersonalStream {
  readonly #o: StreamOptions;
  readonly #clock: Clock;
  #state: StreamState = 'idle';
  #streamId: string | null = null;
  #seq = 0;
  #startedAt = 0;
  #lastSentAt = -Infinity;
  #sentText = '';
  #pending: Pending | null = null;
  #inFlight: Promise<void> | null = null;
  #timer: AbortController | null = null;
  #watchdog: AbortController | null = null;

  constructor(opts: StreamOptions) {
    this.#o = opts;
    this.#clock = opts.clock ?? realClock;
  }

  get state(): StreamState {
    return this.#state;
  }

  /** What the user has seen in the stream so far. */
  get shownText(): string {
    return this.#sentText;
  }

  informative(text: string): void {
    if (this.#state === 'ended' || this.#state === 'stopped') return;
    // Once text streams, a progress line would replace it: informative updates only come first.
    if (this.#sentText || this.#pending?.kind === 'streaming') return;
    this.#pending = { kind: 'informative', text: text.slice(0, MAX_INFORMATIVE) };
    this.#schedule();
  }

  /** The whole text so far. Ignored if it does not extend what was shown (Teams refuses that). */
  text(full: string): void {
    if (this.#state === 'ended' || this.#state === 'stopped') return;
    // Every update carries the whole text: past one message's size the stream keeps what it shows, finish() sends the rest.
    if (full.length > MAX_MESSAGE_CHARS) return;
    if (!full.trim() || !full.startsWith(this.#sentText) || full === this.#sentText) return;
    this.#pending = { kind: 'streaming', text: full };
    this.#schedule();
  }

  /** Ends the stream now (an approval wait, a long delegation); what follows goes as normal messages. */
  async end(why: 'time' | 'wait'): Promise<void> {
    if (this.#state !== 'open') return;
    this.#cancelTimers();
    await this.#inFlight;
    if (this.#state !== 'open') return;
    this.#state = 'ended';
    this.#pending = null;
    const text = this.#sentText || (why === 'wait' ? 'Waiting for a decision…' : 'Still working…');
    await this.#closeStream({ text });
    this.#o.onEnded?.(why);
  }

  /**
   * Ends with the final message. While the stream is open it closes it (text, attachments, AI label);
   * otherwise it posts a normal message with what the user has not seen yet. Returns the message id.
   */
  async finish(final: { text: string; attachments?: Activity['attachments']; label?: boolean }): Promise<string | null> {
    this.#cancelTimers();
    await this.#inFlight;
    const entities = final.label === false ? [] : [AI_LABEL_ENTITY];
    const whole = { text: final.text, attachments: final.attachments, entities };
    if (this.#state === 'open') {
      this.#state = 'ended';
      // Too long for one message: the stream closes with what it showed (or the first piece), the rest follows.
      const fits = final.text.length <= MAX_MESSAGE_CHARS;
      const closed = await this.#closeStream(fits ? whole : { text: this.#sentText || firstPiece(final.text), entities });
      if ((this.#state as StreamState) === 'stopped' || (fits && !closed.refused)) return closed.id;
      return (await this.#sendRest(whole)) ?? closed.id;
    }
    if (this.#state === 'stopped') return null;
    this.#state = 'ended';
    return this.#sendRest(whole);
  }

  /** After the stream: what the user has not seen yet, as normal messages (null when nothing is left). */
  async #sendRest(f: { text: string; attachments?: Activity['attachments']; entities?: unknown[] }): Promise<string | null> {
    const rest = this.#sentText && f.text.startsWith(this.#sentText) ? f.text.slice(this.#sentText.length).trim() : f.text;
    if (!rest && !f.attachments?.length) return null;
    return sendLong(this.#o.connector, this.#o.target, { ...(rest ? { text: rest } : {}), attachments: f.attachments, entities: (f.entities ?? []) as Activity['entities'] });
  }

  #schedule(): void {
    if (this.#inFlight || this.#timer || !this.#pending) return;
    const wait = this.#lastSentAt + (this.#o.minIntervalMs ?? STREAM_MIN_INTERVAL_MS) - this.#clock.now();
    if (wait > 0) {
      const timer = (this.#timer = new AbortController());
      void this.#clock.sleep(wait, timer.signal).then(() => {
        if (this.#timer !== timer || timer.signal.aborted) return;
        this.#timer = null;
        this.#flush();
      });
      return;
    }
    this.#flush();
  }

  #flush(): void {
    const next = this.#pending;
    if (!next || this.#state === 'ended' || this.#state === 'stopped') return;
    this.#pending = null;
    this.#inFlight = this.#sendUpdate(next).finally(() => {
      this.#inFlight = null;
      this.#schedule();
    });
  }

  async #sendUpdate(p: Pending): Promise<void> {
    const seq = ++this.#seq;
    const info = { streamType: p.kind, streamSequence: seq, ...(this.#streamId ? { streamId: this.#streamId } : {}) };
    this.#lastSentAt = this.#clock.now();
    if (this.#state === 'idle') {
      this.#state = 'open';
      this.#startedAt = this.#lastSentAt;
      this.#startWatchdog();
    }
    try {
      // Updates are dropped rather than retried for long: the next one carries the whole text anyway.
      const id = await this.#o.connector.send(this.#o.target, { type: 'typing', text: p.text, entities: [{ type: 'streaminfo', ...info }] as Activity['entities'], channelData: info }, { attempts: 2 });
      if (!this.#streamId) this.#streamId = id;
      if (p.kind === 'streaming') this.#sentText = p.text;
    } catch (err) {
      if (isUserStop(err)) {
        this.#state = 'stopped';
        this.#cancelTimers();
        this.#o.onStopped?.();
        return;
      }
      if (streamRefused(err)) {
        // Teams will not take more of this stream (time limit, size, not allowed): the rest goes as normal messages.
        this.#state = 'ended';
        this.#cancelTimers();
        this.#o.onEnded?.('refused');
        return;
      }
      if (!this.#streamId) {
        // The stream never started: fall back to a normal final message.
        this.#state = 'ended';
        this.#cancelTimers();
      }
    }
  }

  /** The stream's final message. Refused (not a Stop): what the user saw stays as it was, `refused` says so. */
  async #closeStream(f: { text: string; attachments?: Activity['attachments']; entities?: unknown[] }): Promise<{ id: string | null; refused: boolean }> {
    this.#cancelTimers();
    // The final message is a stream request too: Teams refuses a stream sending faster than one a second.
    const wait = this.#lastSentAt + (this.#o.minIntervalMs ?? STREAM_MIN_INTERVAL_MS) - this.#clock.now();
    if (wait > 0) await this.#clock.sleep(wait);
    const info = { streamType: 'final', ...(this.#streamId ? { streamId: this.#streamId } : {}) };
    const shown = this.#sentText;
    this.#sentText = f.text;
    try {
      const id = await this.#o.connector.send(this.#o.target, {
        type: 'message',
        text: f.text,
        attachments: f.attachments,
        entities: [{ type: 'streaminfo', ...info }, ...(f.entities ?? [])] as Activity['entities'],
        channelData: info,
      });
      return { id, refused: false };
    } catch (err) {
      if (isUserStop(err)) {
        this.#state = 'stopped';
        this.#o.onStopped?.();
        return { id: null, refused: false };
      }
      if (!streamRefused(err)) throw err;
      // The stream cannot be closed with it (e.g. past the 2-minute limit): finish() sends the rest as normal messages.
      this.#sentText = shown;
      return { id: null, refused: true };
    }
  }

  #startWatchdog(): void {
    const watchdog = (this.#watchdog = new AbortController());
    void this.#clock.sleep(this.#o.maxDurationMs ?? STREAM_MAX_MS, watchdog.signal).then(() => {
      if (watchdog.signal.aborted) return;
      void this.end('time').catch(() => undefined);
    });
  }

  #cancelTimers(): void {
    this.#timer?.abort();
    this.#timer = null;
    if (this.#state !== 'open') {
      this.#watchdog?.abort();
      this.#watchdog = null;
    }
  }

  /** Elapsed since the first update (for tests and the bench). */
  elapsed(): number {
    return this.#state === 'idle' ? 0 : this.#clock.now() - this.#startedAt;
  }
}

/**
 * The personal chats with a stream open in this process. Teams allows one stream at a time per chat,
 * and a card posted while a stream is open lands before the stream's end: a card for that chat waits
 * (a bounded time) until the reply has ended its stream (it does so on the approval the card shows).
 */
export class OpenStreams {
  readonly #open = new Map<string, { closed: Promise<void>; close: () => void }>();

  /** Marks the chat as streaming; null when a stream is open there already. The returned function closes it. */
  open(conversationId: string): (() => void) | null {
    if (this.#open.has(conversationId)) return null;
    let close!: () => void;
    const closed = new Promise<void>((r) => (close = r));
    const entry = { closed, close: () => (this.#open.get(conversationId) === entry && this.#open.delete(conversationId), close()) };
    this.#open.set(conversationId, entry);
    return entry.close;
  }

  /** Resolves when no stream is open in the chat, or after `maxMs`. */
  async settled(conversationId: string, clock: Clock, maxMs = 10_000): Promise<void> {
    const entry = this.#open.get(conversationId);
    if (!entry) return;
    const timer = new AbortController();
    await Promise.race([entry.closed, clock.sleep(maxMs, timer.signal)]);
    timer.abort();
  }
}
