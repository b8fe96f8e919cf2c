/**
 * The answer to one message, sent proactively after the turn ended (a turn's context is revoked when
 * it ends). Personal chat: a stream (informative updates, growing text, final message). Group chat and
 * channel thread: a typing indicator, a working card once agents are busy (with Stop), then the reply.
 * Either way the final message carries the AI-generated label, and a failed run ends with a short
 * plain reason, never a stack trace.
 */
import type { Activity } from 'botbuilder';
import { EventView } from '../shared/event-view.js';
import { cardAttachment, workingCard } from './cards.js';
import type { Target, TeamsConnector } from './connector.js';
import type { FaceHelpers, TeamsEngine } from './engine.js';
import { imageAttachment } from './images.js';
import { realClock, type Clock } from './limits.js';
import { sendLong } from './pieces.js';
import { AI_LABEL_ENTITY, OpenStreams, PersonalStream } from './streaming.js';

export interface ReplyDeps {
  engine: TeamsEngine;
  helpers: FaceHelpers;
  connector: TeamsConnector;
  clock?: Clock;
  maxInlineImageBytes: number;
  streaming: boolean;
  onError?: (err: unknown) => void;
  /** Aborted when the bot closes: follows end, nothing more is sent. */
  signal?: AbortSignal;
  /** Working-card edits are spaced at least this far apart (Teams counts edits against the thread's limits). */
  workingCardIntervalMs?: number;
  /** The chats streaming now (shared with the card sync, which posts a card only once a stream has ended). */
  streams?: OpenStreams;
}

export interface ReplyJob {
  runId: string;
  target: Target;
  personal: boolean;
  /** Notes to add to the reply (attachments we could not take). */
  notes?: string[];
}

/** Used when the caller passes none (one registry per process then). */
const defaultStreams = new OpenStreams();

export async function deliverReply(deps: ReplyDeps, job: ReplyJob): Promise<void> {
  const clock = deps.clock ?? realClock;
  const view = new EventView((e) => deps.helpers.describeEvent(e));
  const artifacts: string[] = [];
  // Teams allows one stream at a time per chat: a second reply meanwhile goes whole.
  const closeStream = job.personal && deps.streaming ? (deps.streams ?? defaultStreams).open(job.target.conversationId) : null;
  let stream: PersonalStream | null = null;
  if (closeStream) {
    stream = new PersonalStream({
      connector: deps.connector,
      target: job.target,
      clock,
      onStopped: () => void deps.engine.cancel(job.runId, 'stopped in Teams').catch(() => undefined),
    });
  }
  let working: { id: string | null; lastAt: number; posting: Promise<void> | null } | null = null;
  const showWorking = async (finished: boolean) => {
    const activity: Partial<Activity> = { type: 'message', attachments: [cardAttachment(workingCard(view, job.runId, finished))] };
    if (!working) {
      working = { id: null, lastAt: clock.now(), posting: null };
      working.posting = deps.connector.send(job.target, activity).then((id) => void (working!.id = id));
      return working.posting;
    }
    await working.posting;
    if (!working.id) return;
    if (!finished && clock.now() - working.lastAt < (deps.workingCardIntervalMs ?? 2_000)) return;
    working.lastAt = clock.now();
    await deps.connector.update(job.target, working.id, activity);
  };
  try {
    if (!stream) await deps.connector.send(job.target, { type: 'typing' }).catch(() => undefined);
    for await (const e of deps.engine.follow(job.runId, deps.signal ? { signal: deps.signal } : {})) {
      const changed = view.apply(e);
      if (e.type === 'artifact.created') artifacts.push(e.artifactId);
      if (stream) {
        if (e.type === 'approval.requested' || e.type === 'run.requires_action') {
          await stream.end('wait');
          closeStream?.();
        } else if (changed.text) stream.text(view.text());
        else if (changed.status && view.status()) stream.informative(view.status()!);
      } else if (changed.status && (e.type === 'delegation.started' || e.type === 'tool.call' || working)) {
        await showWorking(false).catch(deps.onError);
      }
    }
    if (deps.signal?.aborted) return;
    const end = view.ended() ?? (await endOf(deps.engine, job.runId));
    // A stream's final message must extend what it showed: the text said before delegating stays in it.
    const shown = view.text().trim();
    const answer = stream && end.kind === 'completed' && shown && shown.endsWith(end.reply.trim()) ? shown : end.kind === 'completed' ? end.reply : '';
    const text =
      end.kind === 'completed' ? answer || '(no reply)' : end.kind === 'failed' ? `Sorry, that did not work: ${deps.helpers.preview(plainReason(end.error), 300)}` : 'Stopped.';
    const notes = job.notes?.length ? `\n\n_${job.notes.join('; ')}_` : '';
    const { attachments, tooBig } = await imagesFor(deps, artifacts);
    const full = text + notes + (tooBig ? `\n\n_${tooBig} image(s) too large to show in Teams._` : '');
    if (stream) await stream.finish({ text: full, attachments, label: end.kind === 'completed' });
    else {
      if (working) await showWorking(true).catch(deps.onError);
      await sendLong(deps.connector, job.target, { text: full, attachments, ...(end.kind === 'completed' ? { entities: [AI_LABEL_ENTITY] as Activity['entities'] } : {}) });
    }
  } catch (err) {
    deps.onError?.(err);
  } finally {
    closeStream?.();
  }
}

async function endOf(engine: TeamsEngine, runId: string) {
  const run = await engine.getRun(runId);
  if (run.status === 'completed') return { kind: 'completed' as const, reply: run.reply ?? '' };
  if (run.status === 'cancelled') return { kind: 'cancelled' as const, reason: run.error ?? '' };
  return { kind: 'failed' as const, error: run.error ?? run.status };
}

async function imagesFor(deps: ReplyDeps, ids: string[]): Promise<{ attachments: Activity['attachments']; tooBig: number }> {
  const attachments: NonNullable<Activity['attachments']> = [];
  let tooBig = 0;
  for (const id of ids) {
    const { artifact, bytes } = await deps.engine.readArtifact(id);
    if (!artifact.mediaType.startsWith('image/')) continue;
    const a = imageAttachment(bytes, artifact.mediaType, artifact.name, deps.maxInlineImageBytes);
    if (a) attachments.push(a);
    else tooBig++;
  }
  return { attachments: attachments.length ? attachments : undefined, tooBig };
}

/** The first line of an error, without paths or anything that looks like a key. */
function plainReason(error: string): string {
  const first = error.split('\n')[0] ?? error;
  return first.replace(/\b(sk|xox[abp])-[A-Za-z0-9_-]{8,}/g, '[redacted]').replace(/\s+at\s+\S+\s*\(.*$/, '');
}
