import { z } from 'zod';
import type { AgentRegistry } from '../agents/registry.js';
import { ToolError } from '../errors.js';
import type { IdGenerator } from '../ids.js';
import type { Store } from '../store/types.js';
import type { RunEngine } from './engine.js';
import type { RunEvent } from './active-run.js';
import { ShutdownSignal } from './executor.js';
import { defineTool, type ToolDefinition } from './tool.js';

const SendMessageArgs = z.object({
  recipient: z.string().describe('Name of the agent to send the message to.'),
  message: z.string().min(1).describe('A self-contained request: the recipient sees only this and its own earlier conversation with you.'),
});

/**
 * `send_message(recipient, message)`: the message lands on the recipient's thread in the same
 * conversation and the recipient runs there as a child run; its reply is the tool result. Because the
 * child run is found again by (parent run, tool call), a resumed parent never delegates twice.
 */
export function createSendMessageTool(deps: {
  agents: AgentRegistry;
  store: Store;
  ids: IdGenerator;
  engine: () => RunEngine;
  maxDepth: number;
}): ToolDefinition<typeof SendMessageArgs> {
  const { agents, store, ids, maxDepth } = deps;
  return defineTool({
    name: 'send_message',
    description:
      'Send a message to another agent of the team and wait for its reply. Several calls in one turn run in parallel. ' +
      'Recipients: ' + agents.specialists().map((a) => a.name).join(', ') + '.',
    parameters: SendMessageArgs,
    idempotent: true,
    annotations: { readOnly: false, openWorld: true },
    async execute({ recipient, message }, ctx) {
      const valid = agents.specialists().filter((a) => a.name !== ctx.agent.name).map((a) => a.name);
      if (!valid.includes(recipient)) {
        const why = recipient === ctx.agent.name ? 'You cannot send a message to yourself.' : `Unknown recipient "${recipient}".`;
        throw new ToolError(`${why} Valid recipients: ${valid.join(', ') || '(none)'}.`);
      }
      const engine = deps.engine();
      const parent = engine.executor.get(ctx.runId)?.run ?? (await store.getRun(ctx.runId));
      if (!parent) throw new ToolError('The calling run no longer exists.');
      if (parent.depth + 1 > maxDepth) {
        throw new ToolError(`Delegation depth limit reached (${maxDepth}): answer with what you have instead of delegating further.`);
      }
      const existing = await store.findChildRun(parent.id, ctx.toolCallId);
      const thread = await store.getOrCreateThread(parent.conversationId, recipient, ids('thr'));
      // delegation.started is stored with the child run it names (EventBus.around), when this process runs the parent.
      const delegating = engine.executor.get(parent.id)?.run;
      const started = (childRunId: string): RunEvent => ({ type: 'delegation.started', toolCallId: ctx.toolCallId, recipient, message, childRunId });
      const child = existing ?? (await engine.enqueue({
        conversationId: parent.conversationId,
        threadId: thread.id,
        agent: recipient,
        input: { content: message, author: ctx.agent.name },
        requestedBy: parent.requestedBy,
        parentRunId: parent.id,
        parentToolCallId: ctx.toolCallId,
        depth: parent.depth + 1,
        planId: parent.planId,
      }, { announce: (c) => (delegating ? [[delegating, started(c.id)]] : []) }));
      if (existing) engine.executor.emitFor(parent.id, started(existing.id));
      // A shutdown leaves the child to be resumed with its parent; a cancel or stall ends it.
      const onAbort = () => {
        if (!(ctx.signal.reason instanceof ShutdownSignal)) void engine.cancel(child.id, 'the delegating run was cancelled').catch(() => {});
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      let ended;
      try {
        if (existing) engine.kick(existing.threadId);
        // The wait ends with the delegating run: a shutdown must not leave a loop behind that writes later.
        ended = await engine.wait(child.id, ctx.signal);
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
      }
      const ok = ended.status === 'completed';
      engine.executor.emitFor(parent.id, {
        type: 'delegation.finished',
        toolCallId: ctx.toolCallId,
        recipient,
        childRunId: child.id,
        ok,
        reply: ok ? (ended.reply ?? '') : (ended.error ?? ended.status),
      });
      if (!ok) throw new ToolError(`${recipient} did not answer: ${ended.error ?? ended.status}.`);
      return ended.reply ?? '';
    },
  });
}
