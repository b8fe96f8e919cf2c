/**
 * An approval as a chat card shows it, surface-neutral: which agent wants what (a tool call with its
 * code or arguments shortened, or a plan step's action), whether it still waits, who decided it, and
 * which buttons belong on it. Built from the face's `approvalView`.
 */
import type { ApprovalView, Principal } from '../../index.js';
import { shorten } from './split-text.js';

export interface ApprovalCard {
  approvalId: string;
  kind: ApprovalView['kind'];
  title: string;
  agent: string;
  /** Short label/value pairs: Agent, Tool, Step, Plan. */
  fields: { label: string; value: string }[];
  /** What it wants to do: the code (for a code tool) or the arguments / action, shortened. */
  body: { text: string; code: boolean; language?: string; truncated: boolean; fullLength: number } | null;
  pending: boolean;
  /** "Approved by X", "Rejected by X: feedback", "Cancelled". */
  decided?: string;
  actions: { approve: boolean; reject: boolean; edit: boolean };
}

export interface ApprovalCardOptions {
  /** Longest body shown on the card; longer ones are shortened with a way to see them whole. */
  maxBody?: number;
  nameOf?: (p: Principal) => string;
  /** Escapes a person's words for the surface's markup (names from `nameOf` are left as they are). */
  escape?: (text: string) => string;
}

const CODE_KEYS = ['code', 'script', 'command', 'source'] as const;

export function approvalCard(view: ApprovalView, opts: ApprovalCardOptions = {}): ApprovalCard {
  const escape = opts.escape ?? ((t: string) => t);
  const maxBody = opts.maxBody ?? 1_500;
  const nameOf = opts.nameOf ?? defaultName;
  const pending = view.status === 'pending';
  const fields: ApprovalCard['fields'] = [{ label: 'Agent', value: view.agent }];
  let title: string;
  let body: ApprovalCard['body'] = null;
  if (view.tool) {
    title = `${view.agent} wants to call ${view.tool.name}`;
    fields.push({ label: 'Tool', value: view.tool.name });
    body = toolBody(view.tool.arguments, maxBody);
  } else if (view.step) {
    title = `Step ${view.step.index}: ${view.step.agent}`;
    fields.push({ label: 'Step', value: String(view.step.index) });
    if (view.plan) fields.push({ label: 'Plan', value: shorten(view.plan.goal, 150).text });
    const s = shorten(view.step.action, maxBody);
    body = { text: s.text, code: false, truncated: s.truncated, fullLength: view.step.action.length };
  } else {
    title = `${view.agent} asks for approval`;
    const s = shorten(view.approval.summary, maxBody);
    body = { text: s.text, code: false, truncated: s.truncated, fullLength: view.approval.summary.length };
  }
  return {
    approvalId: view.approval.id,
    kind: view.kind,
    title,
    agent: view.agent,
    fields,
    body,
    pending,
    ...(pending ? {} : { decided: decidedLine(view, nameOf, escape) }),
    actions: { approve: pending, reject: pending, edit: pending && view.canEdit },
  };
}

/** "Approved by X", "Rejected by X: feedback", "Cancelled". `escape` applies to the feedback (a person's words), not the name. */
export function decidedLine(
  view: Pick<ApprovalView, 'status' | 'decidedBy' | 'feedback'>,
  nameOf: (p: Principal) => string = defaultName,
  escape: (text: string) => string = (t) => t,
): string {
  if (view.status === 'pending') return 'Waiting for a decision';
  if (view.status === 'cancelled') return 'Cancelled';
  const by = view.decidedBy ? ` by ${nameOf(view.decidedBy)}` : '';
  const verb = view.status === 'approved' ? 'Approved' : 'Rejected';
  return `${verb}${by}${view.feedback ? `: ${escape(view.feedback)}` : ''}`;
}

/** The whole of what the approval is about, for a "see it all" view. */
export function approvalFullText(view: ApprovalView): string {
  if (view.tool) {
    const code = codeOf(view.tool.arguments);
    return code ? code.code : JSON.stringify(view.tool.arguments, null, 2);
  }
  return view.step ? view.step.action : view.approval.summary;
}

function toolBody(args: unknown, max: number): NonNullable<ApprovalCard['body']> {
  const code = codeOf(args);
  const text = code ? code.code : JSON.stringify(args, null, 2) ?? '';
  const s = shorten(text, max);
  return { text: s.text, code: true, ...(code?.language ? { language: code.language } : {}), truncated: s.truncated, fullLength: text.length };
}

function codeOf(args: unknown): { code: string; language?: string } | null {
  if (!args || typeof args !== 'object') return null;
  const record = args as Record<string, unknown>;
  for (const key of CODE_KEYS) {
    const v = record[key];
    if (typeof v === 'string') return { code: v, ...(typeof record.language === 'string' ? { language: record.language } : {}) };
  }
  return null;
}

function defaultName(p: Principal): string {
  return p.displayName ?? p.userId;
}
