/**
 * The fake Slack's call log as people read it: one line per Web API call, the method and its key
 * arguments (where, for whom, what it shows). The closing note of issue 10 quotes these lines; set
 * SWITCHBOARD_SLACK_CALLS=FILE and calls.test.ts appends them to FILE as captured.
 */
import { appendFileSync } from 'node:fs';
import type { SlackCall } from './fake-slack.js';

const parse = (v: unknown): unknown => (typeof v === 'string' && /^[[{]/.test(v) ? JSON.parse(v) : v);
const clip = (s: string, n = 48) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

interface Chunk {
  type: string;
  id?: string;
  title?: string;
  status?: string;
  text?: string;
}

function chunks(v: unknown): string {
  const list = (parse(v) ?? []) as Chunk[];
  return list
    .map((c) => (c.type === 'markdown_text' ? `text ${JSON.stringify(clip(c.text ?? '', 32))}` : c.type === 'task_update' ? `task "${clip(c.title ?? '', 40)}" ${c.status}` : c.type))
    .join(', ');
}

function blocks(v: unknown): string {
  const list = (parse(v) ?? []) as { type: string; elements?: { action_id?: string; type?: string }[] }[];
  const buttons = list.flatMap((b) => (b.type === 'actions' || b.type === 'context_actions' ? (b.elements ?? []).map((e) => e.action_id ?? e.type ?? '?') : []));
  return `${list.length} blocks${buttons.length ? `, buttons [${buttons.join(' ')}]` : ''}`;
}

/** One call as a line: `chat.startStream channel=C1 thread_ts=… recipient=T1/U1 chunks=[task "Thinking…" in_progress]`. */
export function callLine(c: SlackCall): string {
  const a = c.args;
  const parts: string[] = [c.method];
  const put = (k: string, v: unknown) => {
    if (v !== undefined && v !== null && v !== '') parts.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  };
  put('team', c.team ?? undefined);
  put('channel', a.channel ?? a.channel_id);
  put('thread_ts', a.thread_ts);
  put('ts', a.ts);
  if (a.recipient_user_id) put('recipient', `${String(a.recipient_team_id)}/${String(a.recipient_user_id)}`);
  if (a.status !== undefined) parts.push(`status=${JSON.stringify(a.status)}`);
  put('title', a.title !== undefined ? clip(String(a.title)) : undefined);
  put('user', a.user);
  put('initiator', a.initiator_user_id);
  if (a.chunks !== undefined) parts.push(`chunks=[${chunks(a.chunks)}]`);
  if (a.text !== undefined && a.chunks === undefined) parts.push(`text=${JSON.stringify(clip(String(a.text)))}`);
  if (a.blocks !== undefined) parts.push(`(${blocks(a.blocks)})`);
  if (a.prompts !== undefined) parts.push(`prompts=${(parse(a.prompts) as unknown[]).length}`);
  if (a.view !== undefined) put('view', (parse(a.view) as { callback_id?: string }).callback_id);
  put('trigger_id', a.trigger_id);
  return parts.join(' ');
}

/** Appends a captured sequence to $SWITCHBOARD_SLACK_CALLS (when set) under a heading. */
export function recordSequence(title: string, lines: string[]): void {
  const file = process.env.SWITCHBOARD_SLACK_CALLS;
  if (!file) return;
  let n = 0;
  // Lines from Slack to the app (an event, a click) are marked, not numbered: only Web API calls count.
  const body = lines.map((l) => (l.startsWith('←') ? `    ${l}` : `${String(++n).padStart(2)}. ${l}`)).join('\n');
  appendFileSync(file, `### ${title}\n\n\`\`\`\n${body}\n\`\`\`\n\n`);
}
