/**
 * One reply streamed into a thread with chat.startStream / appendStream / stopStream.
 *
 * - Something shows at once: the stream starts with a task chunk, before any text.
 * - The SDK's ChatStreamer holds ~256 characters before its first call; here the first text goes out
 *   at once and later text on a timer (`flushMs`), so a slow model still shows progress.
 * - In a channel a stream has one live recipient (the person who asked this turn); others see the
 *   final message.
 * - `pause()` ends the stream (an approval wait would outlive it); the next output starts a new one.
 * - Slack may end a stream by itself (`message_not_in_streaming_state`): the text that did not make it,
 *   and everything after, goes into a continuation message kept current with chat.update. No text is lost.
 */
import type { AnyChunk, KnownBlock, TaskUpdateChunk } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import type { Logger } from '../../index.js';
import { textMessages } from './blocks.js';
import type { StreamMethod, UpdateQueue } from './clients.js';
import { splitText } from '../shared/split-text.js';

export interface StreamTarget {
  team: string;
  channel: string;
  threadTs: string;
  /** Who sees the stream live: the person who asked this turn. */
  user: string;
}

export interface StreamOptions {
  flushMs: number;
  logger: Logger;
  /**
   * The workspace's per-method budgets for the streaming calls. A call waits for its turn; the stream's
   * calls run one at a time, so text arriving meanwhile gathers in the buffer and goes out whole with
   * the next append (no text lost, one call instead of many).
   */
  budgets?: Record<StreamMethod, UpdateQueue>;
}

let streamIds = 0;

type State = 'idle' | 'streaming' | 'paused' | 'ended' | 'done';

/** Largest markdown text per chunk (Slack's markdown limit is 12,000 characters). */
const CHUNK_TEXT = 10_000;

export class ReplyStream {
  #state: State = 'idle';
  #ts: string | null = null;
  #text = '';
  /** Every text accepted for this reply (sent, in flight or pending), for `complete`. */
  #accepted = '';
  #tasks: TaskUpdateChunk[] = [];
  #flushedAny = false;
  #timer: NodeJS.Timeout | null = null;
  #chain: Promise<void> = Promise.resolve();
  /** After Slack ended the stream: the continuation message and its whole text. */
  #cont: { ts: string | null; text: string } | null = null;
  /** Every message this reply wrote, in order (stream messages and continuations). */
  readonly messages: string[] = [];
  /** Everything written so far (streamed or continued): the reply as the thread shows it. */
  written = '';
  /** This stream's key in the budgets: unique, so no other stream's call replaces one of its calls. */
  readonly #key = `stream:${++streamIds}`;

  constructor(
    private readonly client: WebClient,
    private readonly updates: UpdateQueue,
    private readonly target: StreamTarget,
    private readonly opts: StreamOptions,
  ) {}

  get state(): State {
    return this.#state;
  }

  /** Resolves when every send queued so far is done. */
  settled(): Promise<void> {
    return this.#chain;
  }

  /** Starts the message at once with a task chunk, before any text exists. */
  start(title: string): Promise<void> {
    this.task('turn', title, 'in_progress');
    return this.#chain;
  }

  task(id: string, title: string, status: TaskUpdateChunk['status'], details?: string): void {
    this.#tasks = this.#tasks.filter((t) => t.id !== id);
    this.#tasks.push({ type: 'task_update', id, title: title.slice(0, 250), status, ...(details ? { details: details.slice(0, 500) } : {}) });
    this.#flushSoon(true);
  }

  text(delta: string): void {
    this.#text += delta;
    this.#accepted += delta;
    this.#flushSoon(!this.#flushedAny);
  }

  /**
   * The whole reply, once known: whatever of it the stream has not carried yet (deltas are best effort
   * and may have come before this stream listened) is added, so the message ends with all of it.
   */
  complete(reply: string): void {
    // Sent, in flight and pending alike: a send in flight has taken its text but not yet counted it as written.
    const seen = this.#accepted;
    if (reply.startsWith(seen)) this.#text += reply.slice(seen.length);
    else if (!seen.trim()) this.#text = reply;
    this.#accepted = reply;
  }

  /** Drops text not yet sent (the model's answer broke and is being retried). */
  reset(): void {
    this.#accepted = this.#accepted.slice(0, this.#accepted.length - this.#text.length);
    this.#text = '';
  }

  /** Ends the current stream message now; later output starts a new one. */
  pause(): Promise<void> {
    return this.#enqueue(async () => {
      await this.#flush();
      if (this.#state === 'streaming') await this.#stop([]);
      if (this.#state === 'streaming' || this.#state === 'idle') this.#state = 'paused';
      // The next text starts the next message at once.
      this.#flushedAny = false;
    });
  }

  /** Sends what is left and ends the message; `error` ends it with a short plain reason; `blocks` go under a streamed message. */
  finish(end: { error?: string; blocks?: KnownBlock[] } = {}): Promise<void> {
    if (end.error) this.#text += `${this.written || this.#text ? '\n\n' : ''}:warning: ${end.error}`;
    for (const t of this.#tasks) if (t.status === 'in_progress' || t.status === 'pending') t.status = end.error ? 'error' : 'complete';
    this.#tasks = this.#tasks.filter((t) => t.id !== 'turn' || end.error);
    return this.#enqueue(async () => {
      if (this.#state === 'streaming') {
        await this.#stop(this.#takeChunks(), end.blocks);
      } else if (this.#state === 'ended') {
        await this.#continue(this.#takeText(), true);
      } else if (this.#text) {
        // Never streamed (or paused with text left): one ordinary message.
        await this.#post(this.#takeText());
      }
      this.#state = 'done';
    });
  }

  #flushSoon(now: boolean): void {
    if (now) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = null;
      void this.#enqueue(() => this.#flush());
      return;
    }
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#enqueue(() => this.#flush());
    }, this.opts.flushMs);
    this.#timer.unref();
  }

  #enqueue(job: () => Promise<void>): Promise<void> {
    this.#chain = this.#chain.then(job).catch((err: unknown) => this.opts.logger.warn('Slack reply stream failed', { error: err }));
    return this.#chain;
  }

  #takeText(): string {
    const t = this.#text;
    this.#text = '';
    return t;
  }

  #takeChunks(): AnyChunk[] {
    const chunks: AnyChunk[] = [...this.#tasks];
    this.#tasks = [];
    const text = this.#takeText();
    if (text) for (const piece of splitText(text, CHUNK_TEXT)) chunks.push({ type: 'markdown_text', text: piece });
    return chunks;
  }

  async #flush(): Promise<void> {
    if (this.#state === 'done') return;
    if (!this.#text && this.#tasks.length === 0) return;
    if (this.#state === 'ended') {
      this.#tasks = [];
      return this.#continue(this.#takeText(), false);
    }
    const chunks = this.#takeChunks();
    if (chunks.some((c) => c.type === 'markdown_text')) this.#flushedAny = true;
    const { channel, threadTs, team, user } = this.target;
    if (this.#state === 'idle' || this.#state === 'paused') {
      const r = await this.#budgeted('start', () => this.client.chat.startStream({ channel, thread_ts: threadTs, recipient_team_id: team, recipient_user_id: user, chunks }));
      this.#ts = r.ts ?? null;
      if (this.#ts) this.messages.push(this.#ts);
      this.#state = 'streaming';
      this.#wrote(chunks);
      return;
    }
    try {
      await this.#budgeted('append', () => this.client.chat.appendStream({ channel, ts: this.#ts!, chunks }));
      this.#wrote(chunks);
    } catch (err) {
      if (!endedBySlack(err)) throw err;
      this.#state = 'ended';
      await this.#continue(textOf(chunks), false);
    }
  }

  async #stop(chunks: AnyChunk[], blocks?: KnownBlock[]): Promise<void> {
    try {
      await this.#budgeted('stop', () => this.client.chat.stopStream({ channel: this.target.channel, ts: this.#ts!, chunks, ...(blocks ? { blocks } : {}) }));
      this.#wrote(chunks);
      this.#state = 'paused';
    } catch (err) {
      if (!endedBySlack(err)) throw err;
      this.#state = 'ended';
      await this.#continue(textOf(chunks), true);
    }
  }

  #budgeted<T>(method: StreamMethod, run: () => Promise<T>): Promise<T> {
    const budget = this.opts.budgets?.[method];
    return budget ? budget.call(this.#key, run) : run();
  }

  /** Text after Slack ended the stream: one continuation message, posted once and then updated. */
  async #continue(text: string, final: boolean): Promise<void> {
    if (!this.#cont) this.#cont = { ts: null, text: '' };
    const cont = this.#cont;
    cont.text += text;
    this.written += text;
    if (!cont.text) return;
    const { channel, threadTs } = this.target;
    const [first, ...more] = textMessages(cont.text);
    if (!cont.ts) {
      const r = await this.client.chat.postMessage({ channel, thread_ts: threadTs, ...first! });
      cont.ts = r.ts ?? null;
      if (cont.ts) this.messages.push(cont.ts);
    } else {
      const ts = cont.ts;
      const update = () => this.client.chat.update({ channel, ts, ...first! });
      // The last update must land; intermediate ones share the workspace's budget.
      await this.updates.schedule(`${channel}:${ts}`, update);
    }
    if (final) for (const m of more) await this.client.chat.postMessage({ channel, thread_ts: threadTs, ...m });
  }

  async #post(text: string): Promise<void> {
    const { channel, threadTs } = this.target;
    for (const m of textMessages(text)) {
      const r = await this.client.chat.postMessage({ channel, thread_ts: threadTs, ...m });
      if (r.ts) this.messages.push(r.ts);
    }
    this.written += text;
  }

  #wrote(chunks: AnyChunk[]): void {
    this.written += textOf(chunks);
  }
}

function textOf(chunks: AnyChunk[]): string {
  return chunks.map((c) => (c.type === 'markdown_text' ? c.text : '')).join('');
}

function endedBySlack(err: unknown): boolean {
  const data = (err as { data?: { error?: string } }).data;
  return data?.error === 'message_not_in_streaming_state';
}
