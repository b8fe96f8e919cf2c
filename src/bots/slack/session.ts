/**
 * Slack's native Stop for agent sessions, and the slash command that starts a plan.
 *
 * Stop: Slack stops the stream itself and sends `agent_session_stopped`; the engine cancels the thread's
 * runs only for someone allowed in the conversation, and says so otherwise. The session leaves
 * `processing` either way (Slack does not do that by itself).
 *
 * `/switchboard plan <goal>`: a slash command has no thread, so it posts a new top-level message; that
 * message is the plan card and the root of the plan's thread.
 */
import { ForbiddenError, type Logger } from '../../index.js';
import type { CardKeeper } from './cards.js';
import type { SlackClients } from './clients.js';
import type { Json, SlackEngine } from './engine.js';
import { SURFACE, slackKey, slackPrincipal, type ConversationRef, type KeyRef } from './refs.js';

export interface SessionDeps {
  engine: SlackEngine;
  clients: SlackClients;
  logger: Logger;
}

const ACTIVE = ['queued', 'in_progress', 'requires_action'] as const;

export async function stopSession(deps: SessionDeps, team: string, event: { channel: string; thread_ts: string; user: string }): Promise<void> {
  const client = deps.clients.main(team);
  const key = slackKey(team, event.channel, event.thread_ts);
  const known = (await deps.engine.refs.get(SURFACE, 'conversation', key)) as KeyRef | null;
  // The session's state afterwards: `active` once the work is stopped; `processing` when it goes on.
  let after: 'active' | 'processing' = 'active';
  try {
    if (!known) return;
    const who = slackPrincipal(team, event.user);
    try {
      await deps.engine.getConversation(known.conversationId, who);
    } catch (err) {
      if (!(err instanceof ForbiddenError)) throw err;
      const runs = await deps.engine.listRuns({ conversationId: known.conversationId, statuses: [...ACTIVE] });
      if (runs.length > 0) after = 'processing';
      await deps.clients.interactive(team).chat.postEphemeral({ channel: event.channel, user: event.user, thread_ts: event.thread_ts, text: `You may not stop this conversation's work (it goes on): ${err.message}` });
      return;
    }
    const runs = await deps.engine.listRuns({ conversationId: known.conversationId, statuses: [...ACTIVE] });
    for (const run of runs.filter((r) => r.parentRunId === null)) await deps.engine.cancel(run.id, `stopped in Slack by ${event.user}`);
  } finally {
    await client.agents.sessions.setStatus({ channel_id: event.channel, thread_ts: event.thread_ts, status: after }).catch(() => undefined);
  }
}

export async function startPlanCommand(deps: SessionDeps, cards: CardKeeper, cmd: { team: string; channel: string; user: string; goal: string }): Promise<void> {
  const client = deps.clients.main(cmd.team);
  const posted = await client.chat.postMessage({ channel: cmd.channel, text: `🧭 Planning: ${cmd.goal}`, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `🧭 <@${cmd.user}> asked for a plan: *${cmd.goal.replace(/[<>&]/g, '')}*\n_The planner is working out the steps…_` } }] });
  const ts = posted.ts!;
  const key = slackKey(cmd.team, cmd.channel, ts);
  const who = slackPrincipal(cmd.team, cmd.user);
  const conversation = await deps.engine.conversation(key, who, { access: 'shared', title: cmd.goal.slice(0, 200) });
  const where: ConversationRef = { team: cmd.team, channel: cmd.channel, threadTs: ts, planMessageTs: ts };
  await Promise.all([
    deps.engine.refs.put(SURFACE, 'conversation', key, { conversationId: conversation.id } satisfies KeyRef as unknown as Json),
    deps.engine.refs.put(SURFACE, 'conversation', conversation.id, where as unknown as Json),
  ]);
  const plan = await deps.engine.plan(conversation.id, cmd.goal, who);
  // Events may have raced the references above: render once more from the stored plan.
  await cards.renderPlan(conversation.id, plan.id);
}
