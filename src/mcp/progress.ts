/**
 * MCP progress for a tool call that runs agents: what the team is doing (who works, delegations,
 * tool calls, approvals; worded by the face's `describeEvent`), sent as `notifications/progress` when the host gave a progress token,
 * and a heartbeat so that no gap between two notifications exceeds the interval.
 */
import { describeEvent, type SwitchboardEvent } from '../index.js';

export interface ProgressParams {
  progressToken: string | number;
  progress: number;
  message: string;
}

export type SendProgress = (params: ProgressParams) => Promise<void>;

export class ProgressReporter {
  readonly #send: SendProgress | null;
  readonly #token: string | number | undefined;
  readonly #intervalMs: number;
  readonly #clock: () => number;
  readonly #startedAt: number;
  /** Agents working now, by run id. */
  readonly #working = new Map<string, string>();
  #count = 0;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(opts: { token: string | number | undefined; send: SendProgress; intervalMs: number; clock?: () => number }) {
    this.#token = opts.token;
    this.#send = opts.token === undefined ? null : opts.send;
    this.#intervalMs = opts.intervalMs;
    this.#clock = opts.clock ?? Date.now;
    this.#startedAt = this.#clock();
  }

  /** Whether the host asked for progress at all. */
  get enabled(): boolean {
    return this.#send !== null;
  }

  start(message: string): void {
    this.#emit(message);
  }

  event(e: SwitchboardEvent): void {
    if (e.type === 'run.started') this.#working.set(e.runId, e.agent);
    if (e.type === 'run.completed' || e.type === 'run.failed' || e.type === 'run.cancelled') this.#working.delete(e.runId);
    const line = describeEvent(e);
    if (line) this.#emit(line);
  }

  /** A free-form line (e.g. "waiting for your decision"). */
  note(message: string): void {
    this.#emit(message);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #heartbeat(): void {
    const secs = Math.round((this.#clock() - this.#startedAt) / 1000);
    const who = [...new Set(this.#working.values())];
    this.#emit(`${who.length ? who.join(', ') : 'the team'} ${who.length > 1 ? 'are' : 'is'} working (${secs} s)`);
  }

  #emit(message: string): void {
    if (!this.#send || this.#stopped || this.#token === undefined) return;
    this.#count++;
    this.#send({ progressToken: this.#token, progress: this.#count, message }).catch(() => {
      // The host went away; the run goes on and the result (or the cancellation) settles the call.
    });
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#heartbeat(), this.#intervalMs);
    this.#timer.unref?.();
  }
}
