import { FINAL_PLAN_STATUSES, NotAwaitingApprovalError, NotFoundError, type Approval, type Plan, type Principal, type Switchboard } from '../../index.js';
import { CliError, cliPrincipal, conversationKey, openSwitchboard, parse } from '../common.js';
import { answers, parseAnswer, type Answers, type Reply } from '../prompt.js';
import { attachProgress } from '../render.js';
import { ago } from './approvals.js';

const HELP = `Usage: switchboard plan "goal" [--conversation NAME] [--yes]
       switchboard plan --resume [PLAN_ID] [--yes]
       switchboard plan --list [--conversation NAME]

Asks the planner for a plan for the goal, shows it, and asks you about each step before it runs:
  y                 approve
  n [feedback]      reject; the planner revises the remaining steps with your feedback
  e <new action>    approve, running this action instead
  c                 cancel the plan
Tool calls that need approval while a step runs (e.g. running code) are asked about the same way.
The work is shown as it happens, each step's result when it is done, and the summary at the end.
With piped input each line is one answer. --yes approves every step and tool call.
If the process stops (Ctrl-C, a crash), \`switchboard plan --resume\` carries the newest unfinished
plan on where it stopped; decisions can also come from \`switchboard approve\` in another terminal.
Exit status: 0 completed, 1 failed or cancelled, 2 bad usage, 3 input ended while a decision was pending.`;

function printPlan(plan: Plan): void {
  const lines = [`Plan ${plan.id}${plan.revision > 1 ? ` (revision ${plan.revision})` : ''}: ${plan.goal}`];
  for (const s of plan.steps) lines.push(`  ${s.index}. ${s.agent}: ${s.action}${s.status === 'planned' || s.status === 'awaiting_approval' ? '' : `  [${s.status}]`}`);
  process.stdout.write(lines.join('\n') + '\n');
}

/** The question for one approval, and what the answers mean for it. */
function question(a: Approval, plan: Plan): { text: string; edit: boolean } {
  const step = plan.steps.find((s) => s.id === a.stepId);
  if (a.kind === 'plan_step' && step) {
    return { text: `\nStep ${step.index} of ${plan.steps.length} — ${step.agent}: ${step.action}\nApprove? [y]es / [n]o <feedback> / [e]dit <new action> / [c]ancel plan: `, edit: true };
  }
  if (a.kind === 'plan' && a.stepId) return { text: `\n${a.summary}\nRevise? [y]es [feedback] / [n]o (stop the plan) / [c]ancel plan: `, edit: false };
  if (a.kind === 'plan') return { text: `\nApprove the whole plan? [y]es / [n]o <feedback> / [c]ancel plan: `, edit: false };
  return { text: `\n${a.summary}\nAllow it? [y]es / [n]o <feedback> / [c]ancel plan: `, edit: false };
}

/** A run that is gone ends the walk up; anything else (a store that is down) is a failure. */
const orNull = (err: unknown): null => {
  if (err instanceof NotFoundError) return null;
  throw err;
};

/** Tool approvals of the plan's step runs, and the runs under them. */
async function belongsToPlan(sb: Switchboard, a: Approval, plan: Plan): Promise<boolean> {
  if (a.planId) return a.planId === plan.id;
  const stepRuns = new Set(plan.steps.map((s) => s.runId).filter(Boolean));
  for (let runId = a.runId; runId; ) {
    if (stepRuns.has(runId)) return true;
    runId = (await sb.getRun(runId).catch(orNull))?.parentRunId ?? undefined;
  }
  return false;
}

/** Waits until the plan needs a decision (its own, or a tool call of its steps) or has ended. */
async function nextWork(sb: Switchboard, planId: string): Promise<{ plan: Plan; pending: Approval[] }> {
  for (;;) {
    const plan = await sb.getPlan(planId);
    const pending: Approval[] = [];
    for (const a of await sb.approvals({ conversationId: plan.conversationId, status: 'pending' })) if (await belongsToPlan(sb, a, plan)) pending.push(a);
    if (pending.length > 0 || FINAL_PLAN_STATUSES.includes(plan.status)) return { plan, pending };
    const stop = new AbortController();
    const off = sb.on(plan.conversationId, (e) => e.type === 'approval.requested' && stop.abort());
    const timer = setTimeout(() => stop.abort(), 1_000); // tool approvals asked by another process
    await sb.waitForPlan(planId, { signal: stop.signal }).catch(() => undefined);
    clearTimeout(timer);
    off();
  }
}

async function carryOn(sb: Switchboard, planId: string, principal: Principal, yes: boolean, input: Answers | null): Promise<number> {
  const decided = new Set<string>();
  for (;;) {
    const { plan, pending } = await nextWork(sb, planId);
    if (FINAL_PLAN_STATUSES.includes(plan.status)) return finish(plan);
    for (const approval of pending) {
      if (decided.has(approval.id)) continue;
      const q = question(approval, plan);
      let reply: Reply = { kind: 'approve' };
      if (!yes) {
        const answer = await input!.next(q.text);
        if (answer === null) {
          process.stdout.write(
            `Waiting for a decision on ${approval.id}. Decide it with \`switchboard approve ${approval.id}\` or ` +
              `\`switchboard reject ${approval.id} --feedback "..."\`, and continue with \`switchboard plan --resume ${plan.id}\`.\n`,
          );
          return 3;
        }
        reply = parseAnswer(answer, q.edit);
        if (reply.kind === 'unclear') {
          process.stdout.write(`Answer y, n <feedback>${q.edit ? ', e <new action>' : ''} or c.\n`);
          break; // ask again
        }
      } else {
        process.stdout.write(`${q.text.trimEnd()} y (--yes)\n`);
      }
      if (reply.kind === 'cancel') {
        finish(await sb.cancelPlan(plan.id, principal));
        return 1;
      }
      try {
        await sb.decide(approval.id, { approve: reply.kind === 'approve', feedback: reply.feedback, action: reply.kind === 'approve' ? reply.action : undefined, by: principal });
        decided.add(approval.id);
      } catch (err) {
        if (!(err instanceof NotAwaitingApprovalError)) throw err;
        process.stdout.write(`${err.message}\n`);
      }
      break; // the plan moves on: look again
    }
  }
}

function finish(plan: Plan): number {
  if (plan.status === 'completed') {
    process.stdout.write(`\nPlan completed.\n\nSummary:\n${plan.summary ?? ''}\n`);
    return 0;
  }
  process.stdout.write(`\nPlan ${plan.status}${plan.error ? `: ${plan.error}` : '.'}\n`);
  return 1;
}

/** Prints each step's result as it completes (and the plan again when it is revised); all plans of the conversation unless `planId`. */
function showSteps(sb: Switchboard, conversationId: string, planId?: string): () => void {
  const shown = new Set<string>();
  return sb.on(conversationId, (e) => {
    if (e.type !== 'plan.updated' || (planId && e.planId !== planId)) return;
    if (e.stepStatus === 'completed' || e.stepStatus === 'failed') {
      const key = `${e.stepId}:${e.stepStatus}`;
      if (shown.has(key)) return;
      shown.add(key);
      void (async () => {
        const plan = await sb.getPlan(e.planId);
        const s = plan.steps.find((x) => x.id === e.stepId);
        if (!s) return;
        // A step approved with an edited action says so, with the action that ran (the plan shown earlier has the old one).
        const approval = s.approvalId ? await sb.getApproval(s.approvalId).catch(() => null) : null;
        const edited = approval?.action ? ` (edited: ${s.action})` : '';
        const text = s.status === 'completed' ? s.result ?? '' : `failed: ${s.error ?? ''}`;
        process.stdout.write(`${s.status === 'completed' ? '✓' : '✗'} ${s.index}. ${s.agent}${edited}: ${text}\n`);
      })().catch(() => {});
    } else if (!e.stepId && e.status === 'running' && (e.revision ?? 0) > 1 && !shown.has(`rev${e.revision}`)) {
      shown.add(`rev${e.revision}`);
      void sb.getPlan(e.planId).then((plan) => printPlan(plan), () => {});
    }
  });
}

async function listPlans(sb: Switchboard, principal: Principal, conversation?: string): Promise<number> {
  const conversationId = conversation ? (await sb.store.getConversationByKey(conversationKey(conversation)))?.id : undefined;
  if (conversation && !conversationId) throw new CliError(`No conversation "${conversation}".`);
  const plans = await sb.listPlans({ conversationId, principal });
  if (plans.length === 0) process.stdout.write('No plans.\n');
  for (const p of plans) {
    const done = p.steps.filter((s) => s.status === 'completed').length;
    process.stdout.write(`${p.id}  ${p.status.padEnd(17)}  ${done}/${p.steps.length} steps  ${ago(p.createdAt)} ago  ${p.goal}\n`);
  }
  return 0;
}

export default async function plan(argv: string[]): Promise<number> {
  const { values, positionals } = parse('plan', argv, { yes: { type: 'boolean', short: 'y' }, resume: { type: 'boolean' }, list: { type: 'boolean' } });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const goal = positionals.join(' ').trim();
  if (!values.resume && !values.list && !goal) throw new CliError('No goal. Usage: switchboard plan "goal" (or --resume, --list)', 2);
  const sb = await openSwitchboard({ config: values.config, needsModel: !values.list });
  const principal = cliPrincipal();
  const input = values.yes || values.list ? null : answers({ interactive: Boolean(process.stdin.isTTY) });
  const stops: (() => void)[] = [];
  try {
    if (values.list) return await listPlans(sb, principal, values.conversation);
    let current: Plan;
    let conversationId: string;
    if (values.resume) {
      const unfinished = (await sb.listPlans({ principal })).filter((p) => !FINAL_PLAN_STATUSES.includes(p.status));
      const id = positionals[0] ?? unfinished.at(-1)?.id;
      if (!id) throw new CliError('There is no unfinished plan to resume.');
      current = await sb.getPlan(id, principal);
      conversationId = current.conversationId;
      stops.push(attachProgress(sb, conversationId, { out: process.stdout, streamReply: false }), showSteps(sb, conversationId, current.id));
      process.stdout.write(`Resuming plan ${current.id} (${current.status}).\n`);
    } else {
      conversationId = (await sb.conversation(conversationKey(values.conversation), principal)).id;
      stops.push(attachProgress(sb, conversationId, { out: process.stdout, streamReply: false }), showSteps(sb, conversationId));
      process.stdout.write('Planning…\n');
      current = await sb.plan(conversationId, goal, principal);
    }
    printPlan(current);
    return await carryOn(sb, current.id, principal, Boolean(values.yes), input);
  } finally {
    for (const stop of stops) stop();
    input?.close();
    await sb.close();
  }
}
