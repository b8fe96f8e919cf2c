/**
 * What Teams shows, as pure functions: the plan card (numbered steps, buttons on the waiting step,
 * who decided), the tool-approval card, mention removal and the shared event view.
 */
import { describe, expect, it } from 'vitest';
import type { Activity } from 'botbuilder';
import { keyOf, mentionsBot, withoutBotMentions } from '../../src/bots/teams/bot.js';
import { approvalCard, planCard } from '../../src/bots/teams/cards.js';
import type { ApprovalView } from '../../src/bots/teams/engine.js';
import { EventView, taskLines } from '../../src/bots/shared/event-view.js';
import type { Plan, SwitchboardEvent } from '../../src/index.js';
import { cardText, verbsOf } from '../support/teams-harness-views.js';

const alice = { surface: 'teams', tenant: 't1', userId: 'aad-alice', displayName: 'Alice' };
const plan = (over: Partial<Plan> = {}): Plan =>
  ({
    id: 'plan_1',
    conversationId: 'conv_1',
    goal: 'Ship the notes',
    status: 'awaiting_approval',
    revision: 1,
    mode: 'each_step',
    createdBy: alice,
    usage: { promptTokens: 0, completionTokens: 0, modelCalls: 1 },
    createdAt: 1,
    updatedAt: 1,
    steps: [
      { id: 's1', planId: 'plan_1', index: 1, agent: 'code_agent', action: 'write the notes', status: 'completed', approvalId: 'ap1', revision: 1, result: 'ok' },
      { id: 's2', planId: 'plan_1', index: 2, agent: 'vision_agent', action: 'check the screenshot', status: 'awaiting_approval', approvalId: 'ap2', revision: 1 },
    ],
    ...over,
  }) as Plan;

describe('Teams cards', () => {
  it('a plan card: version 1.5, numbered steps with who decided, Approve/Reject/Edit on the waiting step only', () => {
    const card = planCard(plan(), new Map([['ap1', { by: 'Alice', approved: true }]]), { refreshUserIds: ['29:alice'] });
    expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.5' });
    const text = cardText(card);
    expect(text).toContain('**1. code_agent** — write the notes');
    expect(text).toContain('✅ done · approved by Alice');
    expect(text).toContain('**2. vision_agent** — check the screenshot');
    expect(verbsOf(card)).toEqual(['approve', 'reject', 'edit']);
    const json = JSON.stringify(card);
    expect(json).toContain('"id":"feedback"');
    expect(json).toContain('"id":"action","label":"Action to run instead","isMultiline":true,"value":"check the screenshot"');
    expect(json).toContain('"data":{"on":"plan","id":"plan_1","approvalId":"ap2"}');
    expect(card.refresh).toMatchObject({ action: { type: 'Action.Execute', verb: 'refresh' }, userIds: ['29:alice'] });
    expect(verbsOf(planCard(plan(), new Map(), { buttons: false, notice: 'You cannot decide this' }))).toEqual([]);
    expect(verbsOf(planCard(plan({ status: 'cancelled' }), new Map()))).toEqual([]);
  });

  it('a tool-approval card shows the agent, the tool and the code, shortened', () => {
    const view = {
      approval: { id: 'ap9' },
      kind: 'tool_call',
      status: 'pending',
      agent: 'code_agent',
      requestedBy: alice,
      tool: { name: 'run_code', arguments: { language: 'python', code: 'print(6*7)\n' + 'x = 1\n'.repeat(400) } },
      canEdit: false,
    } as unknown as ApprovalView;
    const card = approvalCard(view, { maxText: 200 });
    const text = cardText(card);
    expect(text).toContain('**code_agent** wants to call **run_code**');
    expect(text).toContain('print(6*7)');
    expect(text).toMatch(/characters; shortened/);
    expect(verbsOf(card)).toEqual(['approve', 'reject']);
    const decided = approvalCard({ ...view, status: 'approved', decidedBy: alice } as ApprovalView);
    expect(cardText(decided)).toContain('approved by Alice');
    expect(verbsOf(decided)).toEqual([]);
  });

  it('removes every mention of the bot (not only the first) and keys a channel thread by its root', () => {
    const a = {
      text: '<at>Switchboard</at> summarise <at>Bob</at> please <at>Switchboard</at>',
      recipient: { id: '28:bot', name: 'Switchboard' },
      entities: [
        { type: 'mention', text: '<at>Switchboard</at>', mentioned: { id: '28:bot', name: 'Switchboard' } },
        { type: 'mention', text: '<at>Bob</at>', mentioned: { id: '29:bob', name: 'Bob' } },
      ],
      conversation: { id: '19:c@thread.tacv2', conversationType: 'channel', tenantId: 't1' },
      id: '1700',
    } as unknown as Activity;
    expect(withoutBotMentions(a)).toBe('summarise <at>Bob</at> please');
    expect(mentionsBot(a)).toBe(true);
    expect(keyOf(a)).toBe('teams:t1:19:c@thread.tacv2;messageid=1700');
  });
});

describe('shared event view', () => {
  const base = { conversationId: 'c', at: 1 };
  const ev = (e: Record<string, unknown>) => ({ ...base, ...e }) as unknown as SwitchboardEvent;

  it('keeps the root text, drops a broken attempt, lists delegations and tool calls with their states', () => {
    const view = new EventView((e) => (e.type === 'delegation.started' ? `${e.recipient} is working…` : null), 'root');
    view.apply(ev({ type: 'text.delta', runId: 'root', agent: 'proxy', depth: 0, delta: 'Let me ' }));
    view.apply(ev({ type: 'text.reset', runId: 'root', agent: 'proxy', depth: 0 }));
    view.apply(ev({ type: 'text.delta', runId: 'root', agent: 'proxy', depth: 0, delta: 'Asking.' }));
    view.apply(ev({ type: 'tool.call', runId: 'root', agent: 'proxy', depth: 0, toolCallId: 't1', name: 'send_message', arguments: '{}' }));
    const changed = view.apply(ev({ type: 'delegation.started', runId: 'root', agent: 'proxy', depth: 0, toolCallId: 't1', recipient: 'vision_agent', message: 'look', childRunId: 'child' }));
    expect(changed.status).toBe(true);
    view.apply(ev({ type: 'text.delta', runId: 'child', agent: 'vision_agent', depth: 1, delta: 'child text is not the reply' }));
    view.apply(ev({ type: 'tool.call', runId: 'child', agent: 'vision_agent', depth: 1, toolCallId: 't2', name: 'analyze_image', arguments: '{}' }));
    view.apply(ev({ type: 'tool.result', runId: 'child', agent: 'vision_agent', depth: 1, toolCallId: 't2', name: 'analyze_image', content: 'x', isError: false }));
    view.apply(ev({ type: 'delegation.finished', runId: 'root', agent: 'proxy', depth: 0, toolCallId: 't1', recipient: 'vision_agent', childRunId: 'child', ok: true, reply: 'cat' }));
    view.apply(ev({ type: 'text.delta', runId: 'root', agent: 'proxy', depth: 0, delta: 'A cat.' }));
    expect(view.text()).toBe('Asking.\n\nA cat.');
    expect(view.status()).toBe('vision_agent is working…');
    expect(taskLines(view.tasks())).toEqual(['✓ vision_agent: look', '✓ vision_agent: analyze_image']);
    expect(view.apply(ev({ type: 'run.completed', runId: 'root', agent: 'proxy', depth: 0, reply: 'A cat.', usage: {} })).ended).toBe(true);
    expect(view.ended()).toEqual({ kind: 'completed', reply: 'A cat.' });
  });
});
