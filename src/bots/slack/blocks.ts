/**
 * Block Kit for plans, approvals and long replies, within Slack's limits: 3,000 characters per section
 * text, 10 fields of 2,000, 150 per header, 50 blocks per message. Buttons carry the approval id, so a
 * click works on any replica and after a restart.
 */
import type { KnownBlock } from '@slack/types';
import type { ApprovalCard } from '../shared/approval-view.js';
import { decisionLine, type PlanStepView, type PlanView } from '../shared/plan-view.js';
import { shorten, splitText } from '../shared/split-text.js';

export const LIMITS = { sectionText: 3_000, field: 2_000, header: 150, blocks: 50, modalInput: 3_000, buttonValue: 2_000 } as const;

export const ACTIONS = { approve: 'sb_approve', reject: 'sb_reject', edit: 'sb_edit', view: 'sb_view', feedback: 'sb_feedback' } as const;

export interface SlackMessage {
  text: string;
  blocks: KnownBlock[];
}

const mrkdwn = (text: string) => ({ type: 'mrkdwn' as const, text: shorten(text, LIMITS.sectionText).text });
const plain = (text: string, max = LIMITS.header) => ({ type: 'plain_text' as const, text: shorten(text, max).text, emoji: true });

/** Escapes what Slack's mrkdwn treats as control characters in text we did not write. */
export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function buttons(approvalId: string, can: { approve: boolean; reject: boolean; edit: boolean }): KnownBlock {
  const elements = [];
  if (can.approve) elements.push({ type: 'button' as const, action_id: ACTIONS.approve, text: plain('Approve'), style: 'primary' as const, value: approvalId });
  if (can.reject) elements.push({ type: 'button' as const, action_id: ACTIONS.reject, text: plain('Reject'), style: 'danger' as const, value: approvalId });
  if (can.edit) elements.push({ type: 'button' as const, action_id: ACTIONS.edit, text: plain('Edit'), value: approvalId });
  return { type: 'actions', block_id: `approval:${approvalId}`, elements };
}

function stepLine(s: PlanStepView, actionChars: number): string {
  const parts = [`*${s.index}.* \`${s.agent}\` — ${esc(shorten(s.action, actionChars).text)}`, `${s.label}${s.decision ? ` · ${decisionLine(s.decision, esc)}` : ''}`];
  if (s.outcome) parts.push(`> ${esc(s.outcome)}`);
  return parts.join('\n');
}

/** One message for the whole plan, updated in place as steps are decided, run and finish. */
export function planMessage(view: PlanView): SlackMessage {
  const blocks: KnownBlock[] = [
    { type: 'header', text: plain(`Plan: ${view.goal}`) },
    { type: 'context', elements: [mrkdwn(`${view.statusLabel}${view.revision > 1 ? ` · revision ${view.revision}` : ''}`)] },
  ];
  // Steps share what is left of the 50 blocks; a very long plan is folded into fewer sections.
  const room = LIMITS.blocks - blocks.length - 3;
  const perBlock = Math.max(1, Math.ceil(view.steps.length / room));
  const actionChars = Math.max(80, Math.floor(2_600 / perBlock));
  // One approval may cover several steps (the whole plan at once): its buttons go once, after the last of
  // them, and without Edit (only a single step's action can be edited).
  const lastOf = new Map<string, number>();
  const count = new Map<string, number>();
  view.steps.forEach((s, i) => {
    if (!s.awaiting || !s.approvalId) return;
    lastOf.set(s.approvalId, i);
    count.set(s.approvalId, (count.get(s.approvalId) ?? 0) + 1);
  });
  for (let i = 0; i < view.steps.length; i += perBlock) {
    const group = view.steps.slice(i, i + perBlock);
    blocks.push({ type: 'section', text: mrkdwn(group.map((s) => stepLine(s, actionChars)).join('\n\n')) });
    for (const [approvalId, at] of lastOf) {
      if (at >= i && at < i + perBlock) blocks.push(buttons(approvalId, { approve: true, reject: true, edit: count.get(approvalId) === 1 }));
    }
  }
  if (view.steps.length === 0) blocks.push({ type: 'section', text: mrkdwn('_The planner is working out the steps…_') });
  if (view.error) blocks.push({ type: 'context', elements: [mrkdwn(`:warning: ${esc(view.error)}`)] });
  if (view.done && view.summary) blocks.push({ type: 'context', elements: [mrkdwn('The summary follows in the thread.')] });
  return { text: `Plan: ${shorten(view.goal, 200).text} (${view.statusLabel})`, blocks: blocks.slice(0, LIMITS.blocks) };
}

/** A tool call (or other approval) waiting for a person, anywhere in a delegation chain. */
export function approvalMessage(card: ApprovalCard): SlackMessage {
  const blocks: KnownBlock[] = [
    { type: 'section', text: mrkdwn(`:raised_hand: *${esc(card.title)}*`) },
    { type: 'section', fields: card.fields.slice(0, 10).map((f) => mrkdwn(`*${f.label}*\n${esc(shorten(f.value, LIMITS.field - 40).text)}`)) },
  ];
  if (card.body) {
    const fence = card.body.code ? '```' : '';
    const room = LIMITS.sectionText - 2 * fence.length - 2;
    const body = shorten(card.body.text, room).text;
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `${fence}${card.body.code ? body : esc(body)}${fence}` } });
    if (card.body.truncated) {
      blocks.push({
        type: 'actions',
        elements: [{ type: 'button', action_id: ACTIONS.view, text: plain(`See all ${card.body.fullLength.toLocaleString('en')} characters`), value: card.approvalId }],
      });
    }
  }
  if (card.pending) blocks.push(buttons(card.approvalId, card.actions));
  else if (card.decided) blocks.push({ type: 'context', elements: [mrkdwn(card.decided)] });
  return { text: `${card.title}${card.pending ? ' — waiting for approval' : ` — ${card.decided ?? ''}`}`, blocks };
}

/** Long text as messages of section blocks (3,000 characters each, 50 blocks per message). */
export function textMessages(text: string): SlackMessage[] {
  const pieces = splitText(text, LIMITS.sectionText);
  const out: SlackMessage[] = [];
  for (let i = 0; i < pieces.length; i += LIMITS.blocks) {
    const group = pieces.slice(i, i + LIMITS.blocks);
    out.push({ text: shorten(group[0]!, LIMITS.sectionText).text, blocks: group.map((p) => ({ type: 'section', text: { type: 'mrkdwn', text: p } })) });
  }
  return out;
}

/** Thumbs up / down under a finished reply; the value names the run. */
export function feedbackBlock(runId: string): KnownBlock {
  return {
    type: 'context_actions',
    elements: [
      {
        type: 'feedback_buttons',
        action_id: ACTIONS.feedback,
        positive_button: { text: plain('Good answer'), value: `${runId}:good` },
        negative_button: { text: plain('Bad answer'), value: `${runId}:bad` },
      },
    ],
  } as KnownBlock;
}
