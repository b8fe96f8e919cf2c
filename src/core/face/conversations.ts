/**
 * Conversations and what goes into them: finding one (with its access check), queueing a message
 * for an agent's thread, and `ask` — one message, one answer.
 */
import { intakeImages } from '../artifacts/intake.js';
import type { ArtifactStore } from '../artifacts/types.js';
import type { AgentRegistry } from '../agents/registry.js';
import type { Config } from '../agents/spec.js';
import { accessible, admit, assertMayTakePart, runForKey } from '../conversations.js';
import { InvalidInputError, RunFailedError } from '../errors.js';
import type { IdGenerator } from '../ids.js';
import type { RunEngine } from '../runs/engine.js';
import { principalId, type Conversation, type Principal, type Run, type Store } from '../store/types.js';

export { mayAccess } from '../conversations.js';
import type { AskResult, SendInput, Switchboard } from '../switchboard.js';

export interface ConversationDeps {
  config: Config;
  agents: AgentRegistry;
  store: Store;
  runs: RunEngine;
  ids: IdGenerator;
  clock: () => number;
  /** Where image bytes a message carries are kept; null when the store keeps no artifacts. */
  artifacts: ArtifactStore | null;
}

export type Conversations = Pick<Switchboard, 'conversation' | 'participants' | 'getConversation' | 'send' | 'ask'>;

export function createConversations(deps: ConversationDeps): Conversations {
  const { config, agents, store, runs, ids, clock, artifacts } = deps;

  // Owner, or (shared) a recorded participant: see ../conversations.ts.
  const getConversation = (id: string, principal?: Principal): Promise<Conversation> => accessible(store, id, principal);

  const send = async (conversationId: string, input: SendInput): Promise<Run> => {
    if (input.text.length > config.limits.maxMessageChars) {
      throw new InvalidInputError(`The message has ${input.text.length} characters; the limit is ${config.limits.maxMessageChars}.`);
    }
    if (input.text.trim() === '' && !input.images?.length) throw new InvalidInputError('The message is empty.');
    const agent = agents.get(input.agent ?? agents.proxy.name);
    const conversation = await getConversation(conversationId);
    // The same idempotency key returns the run it started (a retried Slack event, a redelivered activity).
    const again = await runForKey(store, input.idempotencyKey, conversation.id);
    if (again) return again;
    assertMayTakePart(conversation, input.from);
    // The owner was recorded with the conversation; anyone else (shared) joins its participants here.
    if (principalId(conversation.owner) !== principalId(input.from)) await store.addParticipant(conversation.id, input.from);
    const images = await intakeImages(input.images, { conversationId: conversation.id, maxBytes: config.limits.maxImageBytes, artifacts, ids, clock });
    const thread = await store.getOrCreateThread(conversation.id, agent.name, ids('thr'));
    return runs.enqueue({
      idempotencyKey: input.idempotencyKey,
      conversationId: conversation.id,
      threadId: thread.id,
      agent: agent.name,
      input: { content: input.text, images, author: principalId(input.from) },
      requestedBy: input.from,
      parentRunId: null,
      parentToolCallId: null,
      depth: 0,
    });
  };

  return {
    conversation: (key, principal, opts) => admit(store, ids, key, principal, opts),
    participants: async (conversationId) => store.listParticipants(conversationId),
    getConversation,
    send,
    async ask(agentName, input): Promise<AskResult> {
      // Without `from`, a trusted caller: in a conversation it names, as its owner.
      const fallback = { surface: 'api', userId: 'local' };
      const conversation = input.conversationId
        ? await getConversation(input.conversationId, input.from)
        : await store.getOrCreateConversation(`${(input.from ?? fallback).surface}:${ids('ask')}`, input.from ?? fallback, ids('conv')).then((r) => r.conversation);
      const from = input.from ?? conversation.owner;
      const run = await send(conversation.id, { text: input.text, images: input.images, from, agent: agentName });
      const ended = await runs.wait(run.id);
      if (ended.status !== 'completed') {
        throw new RunFailedError(ended.id, ended.status, ended.error ?? `The run ended as ${ended.status}.`);
      }
      return { conversationId: conversation.id, agent: agentName, runId: ended.id, reply: ended.reply ?? '', usage: ended.usage };
    },
  };
}
