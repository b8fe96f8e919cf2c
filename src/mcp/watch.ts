/**
 * Follows one run and the delegations under it until it ends, a time limit passes, the MCP request
 * is cancelled, or an approval needs a person. Events of other runs in the same conversation (a
 * second host call on another agent, say) are ignored.
 */
import { InternalError, type Run, type Switchboard, type SwitchboardEvent } from '../index.js';
import type { ProgressReporter } from './progress.js';

export type ApprovalEvent = Extract<SwitchboardEvent, { type: 'approval.requested' }>;

export type WatchOutcome =
  | { type: 'ended'; run: Run }
  | { type: 'timeout' }
  | { type: 'aborted' }
  | { type: 'approval'; approvals: ApprovalEvent[] };

export interface WatchOptions {
  timeoutMs: number;
  /** The MCP request's signal: the host cancelled it (or the connection dropped). */
  signal?: AbortSignal;
  /** The server is going away: stop waiting as if the time limit had passed (checked before `signal`). */
  handBack?: AbortSignal;
  /**
   * Called for each approval the run tree asks for. `continue` keeps waiting (it was decided, e.g.
   * through elicitation); `return` ends the watch so the caller can hand the approval back.
   */
  onApproval?: (e: ApprovalEvent) => Promise<'continue' | 'return'>;
}

const EARLY_EVENTS_PER_RUN = 20;
const EARLY_RUNS = 50;

export class RunWatcher {
  readonly #sb: Switchboard;
  readonly #progress: ProgressReporter | undefined;
  readonly #tree = new Set<string>();
  readonly #buffer: SwitchboardEvent[] = [];
  readonly #pending = new Map<string, ApprovalEvent>();
  readonly #early = new Map<string, SwitchboardEvent[]>();
  readonly #off: () => void;
  #root: string | null = null;
  #onApproval: ((e: ApprovalEvent) => void) | null = null;

  /** Subscribe before the run is queued, so nothing it emits is missed. */
  constructor(sb: Switchboard, conversationId: string, progress?: ProgressReporter) {
    this.#sb = sb;
    this.#progress = progress;
    this.#off = sb.on(conversationId, (e) => {
      if (this.#root === null) this.#buffer.push(e);
      else this.#handle(e);
    });
  }

  /** Starts following `runId` (events seen since the subscription are replayed in order). */
  track(runId: string): void {
    this.#root = runId;
    this.#tree.add(runId);
    for (const e of this.#buffer.splice(0)) this.#handle(e);
  }

  /** Approvals the run tree asked for that are not decided yet, as far as this watcher saw. */
  pendingApprovals(): ApprovalEvent[] {
    return [...this.#pending.values()];
  }

  wait(opts: WatchOptions): Promise<WatchOutcome> {
    const root = this.#root;
    if (!root) throw new InternalError('RunWatcher.wait was called before track');
    return new Promise<WatchOutcome>((resolve) => {
      let settled = false;
      const cleanups: (() => void)[] = [];
      const finish = (outcome: WatchOutcome) => {
        if (settled) return;
        settled = true;
        for (const c of cleanups) c();
        this.#onApproval = null;
        resolve(outcome);
      };
      // A person answering an inline approval is not a slow run: the limit waits for them.
      let deciding = 0;
      let timer: NodeJS.Timeout;
      const arm = () => {
        timer = setTimeout(() => (deciding > 0 ? arm() : finish({ type: 'timeout' })), opts.timeoutMs);
      };
      arm();
      cleanups.push(() => clearTimeout(timer));
      // First: closing a connection also aborts its requests' signals, and that is no cancellation.
      if (opts.handBack) {
        if (opts.handBack.aborted) return finish({ type: 'timeout' });
        const onEnd = () => finish({ type: 'timeout' });
        opts.handBack.addEventListener('abort', onEnd, { once: true });
        cleanups.push(() => opts.handBack!.removeEventListener('abort', onEnd));
      }
      if (opts.signal) {
        if (opts.signal.aborted) return finish({ type: 'aborted' });
        const onAbort = () => finish({ type: 'aborted' });
        opts.signal.addEventListener('abort', onAbort, { once: true });
        cleanups.push(() => opts.signal!.removeEventListener('abort', onAbort));
      }
      const decideOne = async (e: ApprovalEvent) => {
        deciding++;
        const next = opts.onApproval ? await opts.onApproval(e).catch(() => 'return' as const) : 'return';
        deciding--;
        if (next === 'return' && !settled) finish({ type: 'approval', approvals: this.pendingApprovals() });
      };
      this.#onApproval = (e) => void decideOne(e);
      for (const e of this.#pending.values()) void decideOne(e);
      this.#sb.wait(root).then(
        (run) => finish({ type: 'ended', run }),
        () => finish({ type: 'timeout' }),
      );
    });
  }

  close(): void {
    this.#off();
    this.#progress?.stop();
  }

  #handle(e: SwitchboardEvent): void {
    if (e.type === 'delegation.started' && this.#tree.has(e.runId)) {
      this.#tree.add(e.childRunId);
      this.#handleOne(e);
      // A child may start before its parent announces the delegation: replay what it said so far.
      const early = this.#early.get(e.childRunId) ?? [];
      this.#early.delete(e.childRunId);
      for (const x of early) this.#handleOne(x);
      return;
    }
    if (!this.#tree.has(e.runId)) {
      if (e.depth > 0) this.#keepEarly(e);
      return;
    }
    this.#handleOne(e);
  }

  /** Events of delegated runs not (yet) known to be ours; bounded, and dropped when such a run ends. */
  #keepEarly(e: SwitchboardEvent): void {
    if (e.type === 'run.completed' || e.type === 'run.failed' || e.type === 'run.cancelled') {
      this.#early.delete(e.runId);
      return;
    }
    if (e.type === 'text.delta') return;
    const list = this.#early.get(e.runId) ?? [];
    // An approval request is never dropped: losing it would leave the host waiting for nothing.
    if (list.length < EARLY_EVENTS_PER_RUN || e.type === 'approval.requested') list.push(e);
    this.#early.set(e.runId, list);
    if (this.#early.size > EARLY_RUNS) {
      for (const [runId, events] of this.#early) {
        if (events.some((x) => x.type === 'approval.requested')) continue;
        this.#early.delete(runId);
        break;
      }
    }
  }

  #handleOne(e: SwitchboardEvent): void {
    this.#progress?.event(e);
    if (e.type === 'approval.requested') {
      this.#pending.set(e.approvalId, e);
      this.#onApproval?.(e);
    } else if (e.type === 'approval.decided') {
      this.#pending.delete(e.approvalId);
    }
  }
}
