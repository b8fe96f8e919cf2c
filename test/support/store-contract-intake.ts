import { describe, expect, it } from 'vitest';
import { InvalidInputError, NotFoundError } from '../../src/core/errors.js';
import { IdempotencyConflictError } from '../../src/core/store/intake-errors.js';
import type { SurfaceRefStore } from '../../src/core/store/refs.js';
import type { NewRun, Principal, Store } from '../../src/core/store/types.js';

/**
 * Lane INTAKE's part of the Store contract (shared conversations, idempotent runs, surface
 * references), run by `describeStoreContract` against every store.
 */

const owner: Principal = { surface: 'slack', userId: 'U1', tenant: 'T1', displayName: 'Alice' };
const member: Principal = { surface: 'slack', userId: 'U2', tenant: 'T1' };
const outsider: Principal = { surface: 'slack', userId: 'U2', tenant: 'T9' }; // same user id, other workspace

let n = 0;
const uid = (prefix: string) => `${prefix}_intake_${++n}_${Math.random().toString(36).slice(2, 8)}`;

async function refsOf(s: Store): Promise<SurfaceRefStore> {
  const refs = (await s.persistence!()).refs;
  await refs.init();
  return refs;
}

export function describeIntakeContract(h: { store: () => Store; second: () => Promise<Store> }): void {
  const newRun = (conversationId: string, threadId: string, idempotencyKey?: string): NewRun & { id: string } => ({
    id: uid('run'),
    conversationId,
    threadId,
    agent: 'proxy',
    input: { content: 'hi', author: 'slack:T1:U1' },
    requestedBy: owner,
    parentRunId: null,
    parentToolCallId: null,
    depth: 0,
    idempotencyKey,
  });
  const seed = async (s: Store, access?: 'private' | 'shared') => {
    const { conversation } = await s.getOrCreateConversation(uid('slack:T1:C1'), owner, uid('conv'), { access, title: 'standup' });
    const thread = await s.getOrCreateThread(conversation.id, 'proxy', uid('thr'));
    return { conversation, thread };
  };

  describe('shared conversations', () => {
    it('keeps access and title from creation, private by default, the owner as first participant', async () => {
      const s = h.store();
      const { conversation: shared } = await seed(s, 'shared');
      expect(shared).toMatchObject({ access: 'shared', title: 'standup', owner });
      const { conversation: plain } = await s.getOrCreateConversation(uid('cli:notes'), owner, uid('conv'));
      expect(plain).toMatchObject({ access: 'private', title: null });
      // A later call with other options changes nothing.
      const again = await s.getOrCreateConversation(plain.key, member, uid('conv'), { access: 'shared', title: 'x' });
      expect(again).toEqual({ conversation: plain, created: false });
      expect(await s.listParticipants(shared.id)).toEqual([owner]);
      expect(await s.isParticipant(plain.id, owner)).toBe(true);
      expect(await s.isParticipant(plain.id, member)).toBe(false);
    });

    it('records participants once each, in the order they joined, and tells tenants apart', async () => {
      const s = h.store();
      const { conversation } = await seed(s, 'shared');
      await s.addParticipant(conversation.id, member);
      await s.addParticipant(conversation.id, member);
      const b = await h.second();
      await b.addParticipant(conversation.id, owner);
      expect(await b.listParticipants(conversation.id)).toEqual([owner, member]);
      expect(await b.isParticipant(conversation.id, member)).toBe(true);
      expect(await s.isParticipant(conversation.id, outsider)).toBe(false);
      await expect(s.addParticipant('conv_missing', member)).rejects.toThrow(NotFoundError);
      expect(await s.listParticipants('conv_missing')).toEqual([]);
    });
  });

  describe('idempotent runs', () => {
    it('returns the run a key already created, and refuses the key in another conversation', async () => {
      const s = h.store();
      const { conversation, thread } = await seed(s);
      const key = uid('slack:T1:C1:1700000000.000100');
      const first = await s.createRun(newRun(conversation.id, thread.id, key));
      expect(first.idempotencyKey).toBe(key);
      const again = await s.createRun(newRun(conversation.id, thread.id, key));
      expect(again).toEqual(first);
      expect(await s.getRunByIdempotencyKey(key)).toEqual(first);
      expect(await s.getRunByIdempotencyKey('no-such-key')).toBeNull();
      const other = await seed(s);
      await expect(s.createRun(newRun(other.conversation.id, other.thread.id, key))).rejects.toThrow(IdempotencyConflictError);
      // Runs without a key never collide.
      const plain = await Promise.all([s.createRun(newRun(conversation.id, thread.id)), s.createRun(newRun(conversation.id, thread.id))]);
      expect(plain.map((r) => r.idempotencyKey)).toEqual([null, null]);
      expect(await s.listRuns({ conversationId: conversation.id })).toHaveLength(3);
    });

    it('creates one run when two connections race with one key', async () => {
      const a = h.store();
      const b = await h.second();
      const { conversation, thread } = await seed(a);
      for (let round = 0; round < 5; round++) {
        const key = uid('teams:activity');
        const runs = await Promise.all([a, b, a, b].map((s) => s.createRun(newRun(conversation.id, thread.id, key))));
        expect(new Set(runs.map((r) => r.id)).size).toBe(1);
      }
      expect(await a.listRuns({ conversationId: conversation.id })).toHaveLength(5);
    });
  });

  describe('surface references', () => {
    it('puts, gets, replaces and deletes a reference, kept per surface, kind and id', async () => {
      const refs = await refsOf(h.store());
      const id = uid('run');
      expect(await refs.get('slack', 'run', id)).toBeNull();
      await refs.put('slack', 'run', id, { channel: 'C1', ts: '1700000000.000100' });
      await refs.put('teams', 'run', id, { activityId: 'a1', reference: { conversation: { id: 'x' } } });
      await refs.put('slack', 'plan', id, 'just a string');
      expect(await refs.get('slack', 'run', id)).toEqual({ channel: 'C1', ts: '1700000000.000100' });
      expect(await refs.get('slack', 'plan', id)).toBe('just a string');
      await refs.put('slack', 'run', id, { channel: 'C1', ts: '1700000000.000200' });
      const other = await refsOf(await h.second());
      expect(await other.get('slack', 'run', id)).toEqual({ channel: 'C1', ts: '1700000000.000200' });
      expect(await other.get('teams', 'run', id)).toEqual({ activityId: 'a1', reference: { conversation: { id: 'x' } } });
      await other.delete('slack', 'run', id);
      expect(await refs.get('slack', 'run', id)).toBeNull();
      await refs.delete('slack', 'run', id); // deleting twice is harmless
      await expect(refs.put('slack', 'message' as never, id, {})).rejects.toThrow(InvalidInputError);
      await expect(refs.put('', 'run', id, {})).rejects.toThrow(InvalidInputError);
      await expect(refs.put('slack', 'run', id, null)).rejects.toThrow(InvalidInputError);
    });

    it('lets exactly one of several replicas claim a reference; the others get what it stored', async () => {
      const a = await refsOf(h.store());
      const b = await refsOf(await h.second());
      for (let round = 0; round < 5; round++) {
        const id = uid('apr');
        const results = await Promise.all([a, b, a, b].map((r, i) => r.claim('slack', 'approval', id, { ts: `ts-${i}` })));
        const winners = results.filter((r) => r.claimed);
        expect(winners).toHaveLength(1);
        for (const r of results) expect(r.data).toEqual(winners[0]!.data);
        expect(await a.get('slack', 'approval', id)).toEqual(winners[0]!.data);
      }
    });
  });
}
