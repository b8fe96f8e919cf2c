/**
 * What the thread shows while agents work: the agent session's lifecycle status (`processing` shows
 * Slack's native stop button; `active` when the turn is over) and a one-line status ("vision_agent is
 * looking at the image…"). Slack clears a thread status after two minutes, so it is sent again before
 * that while the work goes on.
 */
import type { WebClient } from '@slack/web-api';
import type { Logger } from '../../index.js';
import type { UpdateQueue } from './clients.js';

export interface StatusTarget {
  channel: string;
  threadTs: string;
}

export class ThreadStatus {
  #line = '';
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #suspended = false;

  constructor(
    private readonly client: WebClient,
    private readonly target: StatusTarget,
    private readonly opts: { refreshMs: number; logger: Logger; title?: string; user?: string; budgets?: { line: UpdateQueue; session: UpdateQueue } },
  ) {}

  /** The session starts processing (stop button shown) and the first status line appears. */
  async begin(line: string): Promise<void> {
    const { channel, threadTs } = this.target;
    await Promise.all([
      this.#call('session', () =>
        this.client.agents.sessions.setStatus({
          channel_id: channel,
          thread_ts: threadTs,
          status: 'processing',
          ...(this.opts.title ? { title: this.opts.title.slice(0, 200) } : {}),
          ...(this.opts.user ? { initiator_user_id: this.opts.user } : {}),
        }),
      ),
      this.set(line),
    ]);
  }

  /**
   * The work waits for a person (an approval): the session is `suspended` and the status line cleared,
   * not refreshed for as long as the wait lasts (hours, perhaps: it would spend the workspace's status
   * budget on nothing). The next `set` makes the session `processing` again.
   */
  async suspend(): Promise<void> {
    if (this.#closed || this.#suspended) return;
    this.#suspended = true;
    this.#line = '';
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const { channel, threadTs } = this.target;
    await Promise.all([
      this.#call('line', () => this.client.assistant.threads.setStatus({ channel_id: channel, thread_ts: threadTs, status: '' })),
      this.#call('session', () => this.client.agents.sessions.setStatus({ channel_id: channel, thread_ts: threadTs, status: 'suspended' })),
    ]);
  }

  get suspended(): boolean {
    return this.#suspended;
  }

  /** Shows `line` now (skipped when it is already showing) and keeps it fresh. */
  async set(line: string): Promise<void> {
    if (this.#closed || line === this.#line) return;
    if (this.#suspended) {
      this.#suspended = false;
      const { channel, threadTs } = this.target;
      void this.#call('session', () => this.client.agents.sessions.setStatus({ channel_id: channel, thread_ts: threadTs, status: 'processing' }));
    }
    this.#line = line;
    this.#arm();
    await this.#send();
  }

  /** The turn is over: the status line is cleared and the session goes back to `active`. */
  async end(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    const { channel, threadTs } = this.target;
    await Promise.all([
      this.#call('line', () => this.client.assistant.threads.setStatus({ channel_id: channel, thread_ts: threadTs, status: '' })),
      this.#call('session', () => this.client.agents.sessions.setStatus({ channel_id: channel, thread_ts: threadTs, status: 'active' })),
    ]);
  }

  #arm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#closed) return;
      this.#arm();
      void this.#send();
    }, this.opts.refreshMs);
    this.#timer.unref();
  }

  #send(): Promise<void> {
    const { channel, threadTs } = this.target;
    const line = this.#line.slice(0, 150);
    return this.#call('line', () => this.client.assistant.threads.setStatus({ channel_id: channel, thread_ts: threadTs, status: line }));
  }

  /**
   * A status is decoration: its failure is logged, never fatal to the reply. Through the workspace's
   * budget a newer status of this thread replaces one still waiting (the last one always lands).
   */
  async #call(kind: 'line' | 'session', fn: () => Promise<unknown>): Promise<void> {
    const guarded = async () => {
      try {
        await fn();
      } catch (err) {
        this.opts.logger.debug('Slack status call failed', { error: err });
      }
    };
    const budget = this.opts.budgets?.[kind];
    if (!budget) return guarded();
    await budget.schedule(`${this.target.channel}:${this.target.threadTs}:${kind}`, guarded);
  }
}
