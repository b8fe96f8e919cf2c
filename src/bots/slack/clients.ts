/**
 * Web API clients per workspace, two of each:
 * - `main`: replies, cards, uploads. One 429 pauses a WebClient's whole queue until Retry-After, and its
 *   default retries last ~30 minutes, so retries here are bounded;
 * - `interactive`: views.open / views.update / ephemeral answers to a click, and the decoration
 *   (status lines, session states, suggested prompts). It never waits on a 429 (rejectRateLimitedCalls,
 *   no retries), so a throttled main queue cannot push a modal past its 3-second trigger_id, and a
 *   throttled status is dropped rather than pausing the queue the replies use.
 * `chat.update` goes through a per-workspace budget (`UpdateQueue`), latest-wins per message.
 */
import { WebClient, type WebClientOptions } from '@slack/web-api';
import type { Logger as SlackLogger } from '@slack/logger';
import { LogLevel } from '@slack/logger';
import type { Logger } from '../../index.js';
import type { Installations } from './installations.js';

export interface SlackClients {
  main(teamId: string): WebClient;
  interactive(teamId: string): WebClient;
  updates(teamId: string): UpdateQueue;
  /**
   * The workspace's budgets for status calls, one per method (thread status lines, agent session
   * states), latest-wins per thread. A status waits for its budget; a reply never waits for a status.
   */
  statuses(teamId: string, kind: 'line' | 'session'): UpdateQueue;
  /**
   * The workspace's budgets for the streaming methods, one per method (Slack rates each method on its
   * own tier). A stream's calls wait here in order; text arriving meanwhile joins the stream's buffer.
   */
  streams(teamId: string, method: StreamMethod): UpdateQueue;
  /** Resolves when no update or status waits or is in flight (tests, shutdown). */
  drained(): Promise<void>;
  /** Shutting down: a call still goes out when its budget has room at once; none waits for room (it is dropped). */
  stopWaiting(): void;
  close(): void;
}

export type StreamMethod = 'start' | 'append' | 'stop';

export interface ClientOptions {
  apiUrl?: string;
  retries: number;
  updatesPerMinute: number;
  statusesPerMinute: number;
  /** chat.startStream / appendStream / stopStream calls per minute per workspace. */
  streamsPerMinute: Record<StreamMethod, number>;
  logger: Logger;
  /** The clock of the update budget (tests drive it). */
  now?: () => number;
}

export function createClients(installations: Installations, opts: ClientOptions): SlackClients {
  const main = new Map<string, WebClient>();
  const interactive = new Map<string, WebClient>();
  const queues = new Map<string, UpdateQueue>();
  const statusQueues = new Map<string, UpdateQueue>();
  const streamQueues = new Map<string, UpdateQueue>();
  const base: WebClientOptions = { logger: slackLogger(opts.logger), ...(opts.apiUrl ? { slackApiUrl: opts.apiUrl } : {}) };
  const get = (cache: Map<string, WebClient>, teamId: string, extra: WebClientOptions) => {
    const inst = installations.get(teamId);
    let client = cache.get(teamId);
    // A reinstall brings a new token: the cached client goes with the old one.
    if (!client || client.token !== inst.botToken) {
      client = new WebClient(inst.botToken, { ...base, teamId, ...extra });
      cache.set(teamId, client);
    }
    return client;
  };
  return {
    main: (teamId) => get(main, teamId, { retryConfig: { retries: opts.retries, factor: 2, minTimeout: 500, maxTimeout: 20_000 } }),
    interactive: (teamId) => get(interactive, teamId, { rejectRateLimitedCalls: true, retryConfig: { retries: 0 } }),
    updates(teamId) {
      let q = queues.get(teamId);
      if (!q) queues.set(teamId, (q = new UpdateQueue(opts.updatesPerMinute, opts.logger, opts.now)));
      return q;
    },
    statuses(teamId, kind) {
      let q = statusQueues.get(`${teamId}:${kind}`);
      // No per-thread gap: a status is one call per change; only the workspace's minute budget holds them.
      if (!q) statusQueues.set(`${teamId}:${kind}`, (q = new UpdateQueue(opts.statusesPerMinute, opts.logger, opts.now, 0)));
      return q;
    },
    streams(teamId, method) {
      let q = streamQueues.get(`${teamId}:${method}`);
      // No per-stream gap: a stream's calls are already one at a time; only the method's minute budget holds them.
      if (!q) streamQueues.set(`${teamId}:${method}`, (q = new UpdateQueue(opts.streamsPerMinute[method], opts.logger, opts.now, 0)));
      return q;
    },
    async drained() {
      await Promise.all([...queues.values(), ...statusQueues.values(), ...streamQueues.values()].map((q) => q.drained()));
    },
    stopWaiting() {
      for (const q of [...queues.values(), ...statusQueues.values(), ...streamQueues.values()]) q.stopWaiting();
    },
    close() {
      for (const q of [...queues.values(), ...statusQueues.values(), ...streamQueues.values()]) q.close();
    },
  };
}

/**
 * The window a budget counts its calls in: Slack's minute and a margin. Slack counts calls as they
 * arrive; the first calls of a window may have reached it later than they left (a busy moment), the
 * first of the next window sooner, so a budget of exactly 60 s could still put `perMinute` + 1 calls
 * into one of Slack's minutes.
 */
export const BUDGET_WINDOW_MS = 62_000;

/**
 * A workspace's chat.update budget, shared by every conversation: at most `perMinute` calls in any
 * minute (`BUDGET_WINDOW_MS`). Updates are keyed by message; a newer update of a message waiting in line replaces the older
 * one (only the latest state matters), so a busy card costs one call per slot, not one per change.
 */
export class UpdateQueue {
  readonly #pending = new Map<string, { run: () => Promise<unknown>; done: (() => void)[] }>();
  readonly #sent: number[] = [];
  /** When each message was last updated: a message is updated at most once per `minGapMs`. */
  readonly #last = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  /** Shutting down: what cannot go out at once is dropped instead of waiting. */
  #noWait = false;
  #inFlight = 0;
  #idle: (() => void)[] = [];
  calls = 0;

  constructor(
    private readonly perMinute: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly minGapMs = 1_000,
  ) {}

  /** Resolves once this update (or a newer one of the same message) was sent. */
  schedule(key: string, run: () => Promise<unknown>): Promise<void> {
    // Closed: nothing is sent any more, and whoever waits is told at once (never left hanging).
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const existing = this.#pending.get(key);
      if (existing) {
        existing.run = run;
        existing.done.push(resolve);
      } else {
        this.#pending.set(key, { run, done: [resolve] });
      }
      this.#pump();
    });
  }

  /**
   * A call whose answer matters (a stream's start returns its ts; an append may learn Slack ended the
   * stream): it waits for the budget like an update and hands back its result or error. The key must be
   * unique to the caller, so nothing replaces it while it waits.
   */
  async call<T>(key: string, run: () => Promise<T>): Promise<T> {
    let out: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    await this.schedule(key, async () => {
      try {
        out = { ok: true, value: await run() };
      } catch (error) {
        out = { ok: false, error };
      }
    });
    if (!out) throw new BudgetClosedError(key);
    if (!out.ok) throw out.error;
    return out.value;
  }

  get waiting(): number {
    return this.#pending.size;
  }

  /** Resolves when nothing waits or is in flight. */
  drained(): Promise<void> {
    if (this.#pending.size === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  #settle(): void {
    if (this.#pending.size === 0 && this.#inFlight === 0) for (const r of this.#idle.splice(0)) r();
  }

  /** From now on a call goes out if the budget has room at once; one that would wait is dropped (its waiter told). */
  stopWaiting(): void {
    this.#noWait = true;
    this.#pump();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    // Nothing more will be sent: whoever waits is told now.
    for (const job of this.#pending.values()) job.done.forEach((d) => d());
    this.#pending.clear();
    this.#settle();
  }

  #pump(): void {
    if (this.#closed) return;
    // Recomputed from scratch: a newly scheduled message may be ready before the one the timer waits for.
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    while (this.#pending.size > 0) {
      const t = this.now();
      while (this.#sent.length > 0 && this.#sent[0]! <= t - BUDGET_WINDOW_MS) this.#sent.shift();
      let wait = this.#sent.length >= this.perMinute ? this.#sent[0]! + BUDGET_WINDOW_MS - t : 0;
      let next: string | null = null;
      if (wait === 0) {
        let soonest = Infinity;
        for (const key of this.#pending.keys()) {
          const ready = (this.#last.get(key) ?? -Infinity) + this.minGapMs;
          if (ready <= t) {
            next = key;
            break;
          }
          soonest = Math.min(soonest, ready);
        }
        if (!next) wait = soonest - t;
      }
      if (!next && this.#noWait) {
        for (const job of this.#pending.values()) job.done.forEach((d) => d());
        this.#pending.clear();
        this.#settle();
        return;
      }
      if (!next) {
        this.#timer = setTimeout(() => {
          this.#timer = null;
          this.#pump();
        }, wait);
        this.#timer.unref();
        return;
      }
      const job = this.#pending.get(next)!;
      this.#pending.delete(next);
      this.#sent.push(t);
      this.#last.set(next, t);
      if (this.#last.size > 10_000) this.#last.delete(this.#last.keys().next().value!);
      this.calls++;
      this.#inFlight++;
      job
        .run()
        .catch((err: unknown) => this.logger.warn('Slack update failed', { error: err }))
        .finally(() => {
          this.#inFlight--;
          job.done.forEach((d) => d());
          this.#settle();
        });
    }
  }
}

/** A call was still waiting for its budget when the bot shut down: it was never sent. */
export class BudgetClosedError extends Error {
  constructor(readonly key: string) {
    super(`Slack call ${key} was not sent: the bot is shutting down (its rate budget closed while it waited).`);
    this.name = 'BudgetClosedError';
  }
}

/** Bolt and the Web API client log through our logger (stderr), never Slack's ConsoleLogger (stdout). */
export function slackLogger(logger: Logger): SlackLogger {
  let level = LogLevel.WARN;
  return {
    debug: (...m: unknown[]) => logger.debug(m.map(String).join(' ')),
    info: (...m: unknown[]) => logger.debug(m.map(String).join(' ')),
    warn: (...m: unknown[]) => logger.warn(m.map(String).join(' ')),
    error: (...m: unknown[]) => logger.error(m.map(String).join(' ')),
    setLevel: (l: LogLevel) => void (level = l),
    getLevel: () => level,
    setName: () => undefined,
  };
}
