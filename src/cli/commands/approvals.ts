import { type Approval, principalId, type Switchboard } from '../../index.js';
import { CliError, openSwitchboard, parse } from '../common.js';

const HELP = `Usage: switchboard approvals [--conversation NAME|ID] [--all] [--json]

Lists the approvals waiting for a decision, oldest first: plan steps, whole plans, and tool calls
(for example code the code agent wants to run), with who asked and what it wants to do.
--all lists decided ones too. Decide them with \`switchboard approve ID\` or
\`switchboard reject ID --feedback "..."\`, from any terminal, also after a restart.`;

/** How long ago, for people: `12s`, `5m`, `3h`, `2d`. */
export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

const KIND: Record<Approval['kind'], string> = { plan_step: 'plan step', plan: 'plan', tool_call: 'tool call' };

/** One approval as a block of text: a head line, then what it wants, indented. */
export function formatApproval(a: Approval): string {
  const by = a.requestedBy ? principalId(a.requestedBy) : 'unknown';
  const state = a.status === 'pending' ? 'pending' : `${a.status}${a.decidedBy ? ` by ${principalId(a.decidedBy)}` : ''}`;
  const head = `${a.id}  ${KIND[a.kind]}  ${a.agent}${a.toolName ? ` · ${a.toolName}` : ''}  asked by ${by} ${ago(a.createdAt)} ago  [${state}]`;
  const body = a.summary.split('\n').map((l) => `    ${l}`);
  if (a.feedback) body.push(`    feedback: ${a.feedback}`);
  if (a.action) body.push(`    edited action: ${a.action}`);
  return [head, ...body].join('\n');
}

/** A conversation named on the command line: its id, its CLI name (`cli:NAME`), or its surface key. */
export async function resolveConversation(sb: Switchboard, ref: string): Promise<string> {
  const byId = await sb.store.getConversation(ref);
  if (byId) return byId.id;
  for (const key of [`cli:${ref}`, ref]) {
    const found = await sb.store.getConversationByKey(key);
    if (found) return found.id;
  }
  throw new CliError(`No conversation "${ref}" (looked for an id, the CLI name cli:${ref}, and a surface key).`);
}

export default async function approvals(argv: string[]): Promise<number> {
  const { values } = parse('approvals', argv, { all: { type: 'boolean' }, json: { type: 'boolean' } }, false);
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const sb = await openSwitchboard({ config: values.config, needsModel: false, resume: false });
  try {
    const conversationId = values.conversation ? await resolveConversation(sb, values.conversation) : undefined;
    const list = await sb.approvals({ conversationId, status: values.all ? undefined : 'pending' });
    if (values.json) {
      process.stdout.write(JSON.stringify(list, null, 2) + '\n');
      return 0;
    }
    if (list.length === 0) {
      process.stdout.write(values.all ? 'No approvals.\n' : 'No approvals are waiting for a decision.\n');
      return 0;
    }
    process.stdout.write(list.map(formatApproval).join('\n\n') + '\n');
    return 0;
  } finally {
    await sb.close();
  }
}
