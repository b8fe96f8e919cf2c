/**
 * Events and texts as people read them, one line each: MCP progress notifications, the terminal's
 * team view, a Slack or Teams status line. Every surface words the same thing the same way.
 */
import type { SwitchboardEvent } from '../events.js';

/** `text` on one line (runs of whitespace become one space), cut to `max` characters with an ellipsis. */
export function preview(text: string, max = 80): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? one.slice(0, Math.max(0, max - 1)) + '…' : one;
}

export interface DescribeOptions {
  /**
   * The surface shows events nested under their run (indented by `depth`), so who speaks is already
   * visible: a delegation names only the specialist (`→ vision_agent: …`, `← vision_agent answered`).
   */
  nested?: boolean;
}

/** One line for an event worth telling a person about, or null for events that are not (text deltas, queued runs). */
export function describeEvent(e: SwitchboardEvent, opts: DescribeOptions = {}): string | null {
  switch (e.type) {
    case 'run.started':
      return e.depth === 0 ? `${e.agent} is working` : `${e.agent} started`;
    case 'delegation.started':
      return opts.nested ? `→ ${e.recipient}: ${preview(e.message)}` : `${e.agent} → ${e.recipient}: ${preview(e.message)}`;
    case 'delegation.finished':
      if (!e.ok) return `${opts.nested ? '← ' : ''}${e.recipient} failed: ${preview(e.reply)}`;
      return opts.nested ? `← ${e.recipient} answered` : `${e.recipient} answered ${e.agent}`;
    case 'tool.call':
      // Delegations have their own lines (delegation.started / finished).
      if (e.name === 'send_message') return null;
      return opts.nested ? `${e.agent} · ${e.name} ${preview(e.arguments, 60)}` : `${e.agent} · ${e.name}`;
    case 'tool.result':
      return e.isError && e.name !== 'send_message' ? `${e.agent} · ${e.name} failed: ${preview(e.content)}` : null;
    case 'tool.progress':
      return `${e.agent} · ${e.name}: ${preview(e.message)}`;
    case 'approval.requested':
      return `${e.agent} waits for approval (${e.approvalId}): ${preview(e.summary)}`;
    case 'approval.decided':
      return `approval ${e.approvalId} ${e.approved ? 'approved' : 'rejected'} by ${e.by}`;
    case 'plan.updated':
      return `plan ${e.planId}: ${e.stepId ? `step ${e.stepId} ${e.stepStatus ?? ''}`.trim() : e.status}`;
    case 'run.failed':
      return `${e.agent} failed: ${preview(e.error)}`;
    case 'run.cancelled':
      return `${e.agent} was cancelled`;
    case 'run.completed':
      return e.depth === 0 ? `${e.agent} finished` : null;
    default:
      return null;
  }
}
