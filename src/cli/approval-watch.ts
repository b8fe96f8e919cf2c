import { type Approval, type Principal, principalId, type Switchboard, SwitchboardError } from '../index.js';
import { parseAnswer, type Answers } from './prompt.js';
import { clipLines } from './render.js';

export interface ApprovalWatchOptions {
  /** Where the notices go (stderr for `run`, whose stdout is the reply). */
  out: NodeJS.WritableStream;
  /** On a terminal: ask inline. Null: print how to decide and wait (the decision may come from another terminal). */
  ask: Answers | null;
  principal: Principal;
  /** How often to look for approvals other processes asked for (they send no event here). */
  pollMs?: number;
  /** Called before asking: `chat` withdraws its own "you> " prompt, which reads the same input. */
  interrupt?: () => void;
}

export interface ApprovalWatch {
  /** Resolves once no question is being asked or waiting to be. */
  settled(): Promise<void>;
  stop(): void;
}

/** How to decide an approval from any terminal. */
export function decideCommands(id: string): string {
  return `  approve: switchboard approve ${id}\n  reject:  switchboard reject ${id} --feedback "why, and what instead"`;
}

/** What waits, for a person: the agent, the tool and its arguments (code shortened), indented. */
export function describeWaiting(a: Approval): string {
  return `${a.id} waits for a decision: ${clipLines(a.summary, { indent: '    ' })}`;
}

/**
 * Shows each approval the conversation's work waits for — also ones an earlier, interrupted process
 * asked — with its id and the commands that decide it; on a terminal it asks inline too. The first
 * decision stands, wherever it is made: a question answered elsewhere is withdrawn.
 */
export function watchApprovals(sb: Switchboard, conversationId: string, opts: ApprovalWatchOptions): ApprovalWatch {
  const shown = new Set<string>();
  const queue: Approval[] = [];
  let asking: { id: string; withdraw: AbortController; answered: boolean } | null = null;
  let ask = opts.ask;
  let stopped = false;
  let looking: Promise<void> | null = null;
  let again = false;

  const look = async (): Promise<void> => {
    const pending = await sb.approvals({ conversationId, status: 'pending' });
    if (stopped) return;
    if (asking && !asking.answered && !pending.some((a) => a.id === asking!.id)) {
      const decided = await sb.getApproval(asking.id).catch(() => null);
      asking.withdraw.abort();
      const by = decided?.decidedBy ? ` by ${principalId(decided.decidedBy)}` : '';
      opts.out.write(`${asking.id} was ${decided?.status ?? 'decided'}${by} elsewhere.\n`);
    }
    for (const a of pending) {
      if (shown.has(a.id)) continue;
      shown.add(a.id);
      if (ask) {
        queue.push(a);
      } else {
        opts.out.write(`switchboard: ${describeWaiting(a)}\n${decideCommands(a.id)}\n`);
      }
    }
    if (ask && !asking && queue.length > 0) void askNext();
  };

  const lookSoon = () => {
    if (stopped) return;
    if (looking) {
      again = true;
      return;
    }
    looking = look()
      .catch(() => {}) // a failed look is retried on the next poll
      .finally(() => {
        looking = null;
        if (again) {
          again = false;
          lookSoon();
        }
      });
  };

  let idle: { promise: Promise<void>; resolve: () => void } | null = null;
  const settle = () => {
    idle?.resolve();
    idle = null;
  };

  const askNext = async (): Promise<void> => {
    const a = queue.shift();
    if (!a || !ask || stopped) return settle();
    asking = { id: a.id, withdraw: new AbortController(), answered: false };
    if (opts.interrupt) {
      opts.interrupt();
      // Let the withdrawn prompt finish its line before this question starts.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const { signal } = asking.withdraw;
    const text = `\n? ${clipLines(a.summary, { indent: '    ' })}\n  (${a.id}; it can also be decided from another terminal)\nAllow it? [y]es / [n]o <feedback>: `;
    for (;;) {
      const answer = await ask.next(text, signal);
      if (answer === null) {
        if (!signal.aborted && !stopped) {
          // The input ended: nobody will answer here, so say how to decide elsewhere.
          ask = null;
          opts.out.write(`switchboard: ${describeWaiting(a)}\n${decideCommands(a.id)}\n`);
          for (const rest of queue.splice(0)) opts.out.write(`switchboard: ${describeWaiting(rest)}\n${decideCommands(rest.id)}\n`);
        }
        break;
      }
      const reply = parseAnswer(answer, false);
      if (reply.kind !== 'approve' && reply.kind !== 'reject') {
        opts.out.write('Answer y, or n with what to do instead.\n');
        continue;
      }
      asking.answered = true;
      try {
        const { approval, alreadyDecided } = await sb.decide(a.id, { approve: reply.kind === 'approve', feedback: reply.feedback, by: opts.principal });
        if (alreadyDecided) opts.out.write(`${a.id} was already ${approval.status}; that decision stands.\n`);
      } catch (err) {
        // Refused (the policy, or the work moved on): say why; the run goes on waiting for someone who may decide.
        opts.out.write(`switchboard: ${err instanceof SwitchboardError ? err.message : String(err)}\n`);
      }
      break;
    }
    asking = null;
    if (queue.length > 0) void askNext();
    else settle();
  };

  const off = sb.on(conversationId, (e) => {
    if (e.type === 'approval.requested' || e.type === 'approval.decided') lookSoon();
  });
  const timer = setInterval(lookSoon, opts.pollMs ?? 1_000);
  // Never what keeps the process alive: the run being waited for does that.
  timer.unref();
  lookSoon();
  return {
    settled() {
      if (!asking && queue.length === 0) return Promise.resolve();
      if (!idle) {
        let resolve = () => {};
        const promise = new Promise<void>((r) => (resolve = r));
        idle = { promise, resolve };
      }
      return idle.promise;
    },
    stop() {
      settle();
      stopped = true;
      off();
      clearInterval(timer);
      asking?.withdraw.abort();
    },
  };
}
