/**
 * Drives one turn's reply: follows the run and its delegations through the face (`follow`) and turns
 * their events into the stream (the proxy's text; delegations and tool calls as task chunks), the
 * thread's status line, and images uploaded into the thread. Exactly one replica drives a run (the one
 * that claimed its surface reference).
 */
import { describeEvent, preview, type Run, type SwitchboardEvent } from '../../index.js';
import { feedbackBlock } from './blocks.js';
import type { SlackClients } from './clients.js';
import type { SlackEngine } from './engine.js';
import { uploadImage } from './files.js';
import { writeRunRef, type RunRef } from './refs.js';
import { ThreadStatus } from './status.js';
import { ReplyStream, type StreamTarget } from './stream.js';
import type { Logger } from '../../index.js';

export interface ReplyDeps {
  engine: SlackEngine;
  clients: SlackClients;
  logger: Logger;
  flushMs: number;
  statusRefreshMs: number;
  /** How often the driver says it is alive in the run's reference (handoff.ts). */
  beatMs: number;
}

/** Events that mean work is going on somewhere below the proxy, shown as tasks. */
const INTERNAL_TOOLS = new Set(['send_message']);

export async function driveReply(deps: ReplyDeps, run: Pick<Run, 'id'>, target: StreamTarget & { title?: string }, signal?: AbortSignal): Promise<ReplyStream> {
  const client = deps.clients.main(target.team);
  const stream = new ReplyStream(client, deps.clients.updates(target.team), target, { flushMs: deps.flushMs, logger: deps.logger, budgets: { start: deps.clients.streams(target.team, 'start'), append: deps.clients.streams(target.team, 'append'), stop: deps.clients.streams(target.team, 'stop') } });
  // Statuses are decoration: on the client that never waits on a 429, so a throttled status is dropped
  // instead of pausing the queue the reply's stream calls share.
  const status = new ThreadStatus(deps.clients.interactive(target.team), target, { refreshMs: deps.statusRefreshMs, logger: deps.logger, user: target.user, budgets: { line: deps.clients.statuses(target.team, 'line'), session: deps.clients.statuses(target.team, 'session') }, ...(target.title ? { title: target.title } : {}) });
  // Not awaited before following: text deltas are not stored, so the follow starts listening now;
  // what the handlers send queues behind the stream's start. Statuses wait for their own budget: the
  // reply never waits for them.
  const starting = stream.start('Thinking…');
  void status.begin('is thinking…');
  let ended = false;
  // Alive: the beat says so (and how much is shown); a process that sees the run end finishes a reply whose beat stopped.
  const ref: RunRef = { channel: target.channel, threadTs: target.threadTs, user: target.user };
  // One write at a time, in order: a beat still in flight never lands after (and erases) `released` or `done`.
  let writing: Promise<void> = Promise.resolve();
  const write = (r: RunRef) =>
    (writing = writing.then(() => writeRunRef(deps, run.id, r)).catch((err: unknown) => deps.logger.debug('Slack run reference not written', { error: err })));
  const beat = () => void write({ ...ref, beat: Date.now(), shown: stream.written.length });
  beat();
  const beating = setInterval(beat, deps.beatMs);
  beating.unref();
  try {
    for await (const e of deps.engine.follow(run.id, { signal })) {
      await onEvent(e);
      if (ended) break;
    }
    if (!ended && signal?.aborted) {
      // Shutting down: the text so far stands; the run goes on (here after a restart, or on another
      // replica), and whoever sees it end posts the rest (handoff.ts).
      await stream.pause();
      clearInterval(beating);
      await write({ ...ref, released: true, shown: stream.written.length });
    } else if (!ended) {
      const last = await deps.engine.getRun(run.id);
      if (last.status === 'completed') stream.complete(last.reply ?? '');
      await end(last.status === 'completed' ? {} : { error: plainReason(last.error ?? `The run ended as ${last.status}.`) });
    }
  } finally {
    clearInterval(beating);
    await starting;
    void status.end();
  }
  if (ended) await write({ ...ref, done: true, shown: stream.written.length });
  return stream;

  async function end(how: { error?: string }) {
    ended = true;
    await stream.finish(how.error ? how : { blocks: [feedbackBlock(run.id)] });
  }

  async function onEvent(e: SwitchboardEvent): Promise<void> {
    const root = e.runId === run.id;
    switch (e.type) {
      case 'text.delta':
        if (root) stream.text(e.delta);
        return;
      case 'text.reset':
        if (root) stream.reset();
        return;
      case 'delegation.started':
        stream.task(e.childRunId, `${e.recipient}: ${preview(e.message, 80)}`, 'in_progress');
        return void status.set(describeEvent(e) ?? `${e.recipient} is working…`);
      case 'delegation.finished':
        stream.task(e.childRunId, `${e.recipient}: ${e.ok ? 'done' : 'failed'}`, e.ok ? 'complete' : 'error', e.ok ? undefined : preview(e.reply, 200));
        return;
      case 'tool.call':
        if (INTERNAL_TOOLS.has(e.name)) return;
        stream.task(e.toolCallId, `${e.agent} → ${e.name}`, 'in_progress');
        return void status.set(describeEvent(e) ?? `${e.agent} is using ${e.name}…`);
      case 'tool.result':
        if (INTERNAL_TOOLS.has(e.name)) return;
        stream.task(e.toolCallId, `${e.agent} → ${e.name}`, e.isError ? 'error' : 'complete');
        return;
      case 'approval.requested':
        // The wait may outlast the stream: the text so far stands, the card follows, later text streams anew.
        // The session is suspended (a person has to act) until the work goes on.
        await stream.pause();
        return void status.suspend();
      case 'approval.decided':
        return void status.set(e.approved ? 'is working…' : 'is thinking it over…');
      case 'artifact.created':
        if (e.mediaType.startsWith('image/')) await upload(e.artifactId, e.name ?? `${e.artifactId}.${e.mediaType.split('/')[1]}`);
        return;
      case 'run.completed':
        if (!root) return;
        stream.complete(e.reply);
        return void (await end({}));
      case 'run.failed':
        if (root) await end({ error: plainReason(e.error) });
        return;
      case 'run.cancelled':
        if (root) await end({ error: 'Stopped.' });
        return;
      default:
        return;
    }
  }

  async function upload(artifactId: string, name: string) {
    try {
      const { bytes } = await deps.engine.readArtifact(artifactId);
      await uploadImage(client, target, { bytes, name });
    } catch (err) {
      deps.logger.warn('Slack image upload failed', { artifactId, error: err });
    }
  }
}

/** A failure as people read it: its first line, short, without anything that looks like a key or a path of a stack. */
export function plainReason(error: string): string {
  const first = error.split('\n')[0] ?? '';
  const clean = first
    .replace(/\b(sk|xox[abpr]|xapp|ghp|AKIA)[-_A-Za-z0-9]{8,}/g, '[redacted]')
    .replace(/\s+at\s+\S+\s+\(.*\)$/, '')
    .trim();
  return preview(clean || 'Something went wrong.', 300);
}
