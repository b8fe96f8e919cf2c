/**
 * Replies whose driver is gone. A reply is driven by the process that claimed its run (reply.ts); while
 * it does, it beats (writes the time and how much of the reply it showed into the run's reference) and
 * marks the reference `done` at the end.
 *
 * - Shutdown (a deploy, a restart): the driver ends its stream with the text so far and marks the
 *   reference `released`. The run goes on (the next process, or another replica, adopts it).
 * - Crash (killed, out of memory): the driver stops beating. The run goes on likewise.
 *
 * Every process sees every stored run event. When a root run of a Slack conversation ends and its
 * reply is released, or not done and its driver's beat is (or becomes) three beats old, or it was
 * never claimed at all (the process died between the ack and the claim), the process that claims the
 * reference's `#final` posts the rest of the reply into the thread and puts the thread's status and
 * session at rest. Nothing the person asked for is lost to a restart or a crash.
 */
import type { Logger, SwitchboardEvent } from '../../index.js';
import { textMessages } from './blocks.js';
import type { SlackClients } from './clients.js';
import type { SlackEngine } from './engine.js';
import { plainReason } from './reply.js';
import { SURFACE, type ConversationRef, type RunRef } from './refs.js';
import { ThreadStatus } from './status.js';

export interface HandoffDeps {
  engine: SlackEngine;
  clients: SlackClients;
  logger: Logger;
}

type RunEnd = Extract<SwitchboardEvent, { type: 'run.completed' | 'run.failed' | 'run.cancelled' }>;

/** Watches run ends for replies nobody will finish. `staleMs`: a beat older than this means the driver is gone. */
export class Handoff {
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly deps: HandoffDeps,
    private readonly staleMs: number,
    private readonly track: (p: Promise<unknown>) => void,
  ) {}

  onEvent(e: SwitchboardEvent): void {
    if ((e.type === 'run.completed' || e.type === 'run.failed' || e.type === 'run.cancelled') && e.parentRunId === null) this.track(this.#check(e, true));
  }

  stop(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  async #check(e: RunEnd, first: boolean): Promise<void> {
    const { engine } = this.deps;
    const where = (await engine.refs.get(SURFACE, 'conversation', e.conversationId)) as ConversationRef | null;
    if (!where) return;
    let ref = (await engine.refs.get(SURFACE, 'run', e.runId)) as RunRef | null;
    if (ref?.done) return;
    if (!ref) {
      // Never claimed: a run of this surface (its key names the message) whose process died before it drove it.
      const run = await engine.getRun(e.runId);
      if (!run.idempotencyKey?.startsWith(`${SURFACE}:`)) return;
      if (first) return this.#later(e, this.staleMs);
      ref = { channel: where.channel, threadTs: where.threadTs, user: '' };
    } else if (!ref.released) {
      // A live driver finishes it (and marks it done) soon; look again once its beat would be stale.
      const left = (ref.beat ?? 0) + this.staleMs - Date.now();
      if (left > 0) return this.#later(e, left);
    }
    await this.#finish(e, where, ref);
  }

  #later(e: RunEnd, ms: number): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      this.track(this.#check(e, false));
    }, ms);
    t.unref();
    this.#timers.add(t);
  }

  async #finish(e: RunEnd, where: ConversationRef, ref: RunRef): Promise<void> {
    const { claimed } = await this.deps.engine.refs.claim(SURFACE, 'run', `${e.runId}#final`, { posted: true });
    if (!claimed) return;
    const text = e.type === 'run.completed' ? e.reply.slice(Math.min(ref.shown ?? 0, e.reply.length)) : `:warning: ${e.type === 'run.failed' ? plainReason(e.error) : 'Stopped.'}`;
    const client = this.deps.clients.main(where.team);
    const thread = { channel: ref.channel, thread_ts: ref.threadTs };
    if (text.trim()) for (const m of textMessages(text)) await client.chat.postMessage({ ...thread, ...m });
    // The thread's status ends as a driven reply's does: on the client that never waits on a 429, within the status budgets.
    const { clients, logger } = this.deps;
    const status = new ThreadStatus(clients.interactive(where.team), { channel: ref.channel, threadTs: ref.threadTs }, { refreshMs: 0, logger, budgets: { line: clients.statuses(where.team, 'line'), session: clients.statuses(where.team, 'session') } });
    await status.end();
  }
}
