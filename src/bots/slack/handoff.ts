/**
 * A reply whose driver let go of it. On shutdown (a deploy, a restart) the driver ends its stream with
 * the text so far and marks the run's reference released, with how much of the reply it showed; the run
 * itself goes on (in the next process, or on another replica, which adopts it). Whichever process sees
 * the run end first — every process sees every stored run event — claims the reference's `#final` and
 * posts the rest of the reply into the thread, and puts the thread's status and session back at rest.
 * Nothing the person asked for is lost to a restart.
 */
import type { Logger, SwitchboardEvent } from '../../index.js';
import { textMessages } from './blocks.js';
import type { SlackClients } from './clients.js';
import type { Json, SlackEngine } from './engine.js';
import { plainReason } from './reply.js';
import { SURFACE, type ConversationRef } from './refs.js';

/** The run's reference: where its reply goes, who asked; `released` once its driver let go. */
export interface RunRef {
  channel: string;
  threadTs: string;
  user: string;
  released?: boolean;
  /** Characters of the reply the released stream had shown. */
  shown?: number;
}

export interface HandoffDeps {
  engine: SlackEngine;
  clients: SlackClients;
  logger: Logger;
}

/** The driver lets go: the rest of the reply is posted by whoever sees the run end. */
export async function releaseReply(deps: HandoffDeps, runId: string, ref: RunRef, shown: number): Promise<void> {
  await deps.engine.refs.put(SURFACE, 'run', runId, { ...ref, released: true, shown } as unknown as Json);
}

export async function finishReleased(deps: HandoffDeps, e: SwitchboardEvent): Promise<void> {
  if ((e.type !== 'run.completed' && e.type !== 'run.failed' && e.type !== 'run.cancelled') || e.parentRunId !== null) return;
  const ref = (await deps.engine.refs.get(SURFACE, 'run', e.runId)) as RunRef | null;
  if (!ref?.released) return;
  const where = (await deps.engine.refs.get(SURFACE, 'conversation', e.conversationId)) as ConversationRef | null;
  if (!where) return;
  const { claimed } = await deps.engine.refs.claim(SURFACE, 'run', `${e.runId}#final`, { posted: true });
  if (!claimed) return;
  const text = e.type === 'run.completed' ? e.reply.slice(Math.min(ref.shown ?? 0, e.reply.length)) : `:warning: ${e.type === 'run.failed' ? plainReason(e.error) : 'Stopped.'}`;
  const client = deps.clients.main(where.team);
  const thread = { channel: ref.channel, thread_ts: ref.threadTs };
  if (text.trim()) for (const m of textMessages(text)) await client.chat.postMessage({ ...thread, ...m });
  await Promise.all([
    client.assistant.threads.setStatus({ channel_id: ref.channel, thread_ts: ref.threadTs, status: '' }),
    client.agents.sessions.setStatus({ channel_id: ref.channel, thread_ts: ref.threadTs, status: 'active' }),
  ]).catch((err: unknown) => deps.logger.debug('Slack status call failed', { error: err }));
}
