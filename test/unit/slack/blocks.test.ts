/**
 * Slack's limits hold whatever the engine produces: 3,000 characters per section text, 50 blocks per
 * message, modal inputs of 3,000; code fences survive a split.
 */
import { describe, expect, it } from 'vitest';
import type { Plan } from '../../../src/index.js';
import { approvalMessage, LIMITS, planMessage, textMessages } from '../../../src/bots/slack/blocks.js';
import { editModal } from '../../../src/bots/slack/modals.js';
import { planView } from '../../../src/bots/shared/plan-view.js';
import { shorten, splitText } from '../../../src/bots/shared/split-text.js';

function sectionTexts(blocks: unknown[]): string[] {
  return blocks.flatMap((b) => {
    const block = b as { type: string; text?: { text: string }; fields?: { text: string }[] };
    return [...(block.text ? [block.text.text] : []), ...(block.fields ?? []).map((f) => f.text)];
  });
}

function plan(steps: number, actionChars: number): Plan {
  return {
    id: 'plan_1', conversationId: 'conv_1', goal: 'g'.repeat(400), status: 'awaiting_approval', revision: 1, mode: 'each_step',
    createdBy: { surface: 'slack', tenant: 'T1', userId: 'U1' }, usage: { promptTokens: 0, completionTokens: 0, modelCalls: 0 }, createdAt: 0, updatedAt: 0,
    steps: Array.from({ length: steps }, (_, i) => ({
      id: `step_${i + 1}`, planId: 'plan_1', index: i + 1, agent: 'code_agent', action: 'a'.repeat(actionChars), revision: 1,
      status: i === 0 ? ('awaiting_approval' as const) : ('planned' as const), ...(i === 0 ? { approvalId: 'appr_1' } : {}),
    })),
  };
}

describe('Slack Block Kit limits', () => {
  it('splits long text at boundaries, within the limit, and keeps code fences balanced', () => {
    const text = ['Intro paragraph.', '```ts', ...Array.from({ length: 400 }, (_, i) => `const v${i} = ${i};`), '```', 'Outro.'].join('\n');
    const pieces = splitText(text, LIMITS.sectionText);
    expect(pieces.length).toBeGreaterThan(1);
    for (const p of pieces) {
      expect(p.length).toBeLessThanOrEqual(LIMITS.sectionText);
      expect((p.match(/```/g) ?? []).length % 2).toBe(0);
    }
    expect(pieces.join('').replace(/```(ts)?\n?/g, '').replace(/\s+/g, '')).toBe(text.replace(/```(ts)?\n?/g, '').replace(/\s+/g, ''));
    expect(shorten('😀'.repeat(10), 6).text).not.toMatch(/[\uD800-\uDBFF]…$/);
  });

  it('renders a plan of 200 long steps in at most 50 blocks of at most 3,000 characters, with buttons on the waiting step', () => {
    const msg = planMessage(planView(plan(200, 5_000)));
    expect(msg.blocks.length).toBeLessThanOrEqual(LIMITS.blocks);
    for (const t of sectionTexts(msg.blocks)) expect(t.length).toBeLessThanOrEqual(LIMITS.sectionText);
    const actions = msg.blocks.filter((b) => b.type === 'actions');
    expect(actions).toHaveLength(1);
    expect(JSON.stringify(actions[0])).toContain('appr_1');
  });

  it('shortens a long tool call with a way to see it all', () => {
    const code = 'print(1)\n'.repeat(2_000);
    const msg = approvalMessage({
      approvalId: 'appr_9', kind: 'tool_call', title: 'code_agent wants to call run_code', agent: 'code_agent',
      fields: [{ label: 'Agent', value: 'code_agent' }, { label: 'Tool', value: 'run_code' }],
      body: { text: shorten(code, 1_500).text, code: true, truncated: true, fullLength: code.length }, pending: true,
      actions: { approve: true, reject: true, edit: false },
    });
    for (const t of sectionTexts(msg.blocks)) expect(t.length).toBeLessThanOrEqual(LIMITS.sectionText);
    expect(JSON.stringify(msg.blocks)).toContain('sb_view');
    expect(JSON.stringify(msg.blocks)).not.toContain('sb_edit');
  });

  it('prefills the edit input only when the action fits in 3,000 characters', () => {
    const short = editModal({ approvalId: 'a' }, 'do it');
    expect(JSON.stringify(short)).toContain('"initial_value":"do it"');
    const long = editModal({ approvalId: 'a' }, 'x'.repeat(7_000));
    expect(JSON.stringify(long)).not.toContain('initial_value');
    for (const t of sectionTexts(long.blocks)) expect(t.length).toBeLessThanOrEqual(LIMITS.sectionText);
  });

  it('spreads a very long reply over messages of at most 50 sections', () => {
    const msgs = textMessages('word '.repeat(60_000));
    expect(msgs.length).toBeGreaterThanOrEqual(2);
    expect(msgs.slice(0, -1).every((m) => m.blocks.length === LIMITS.blocks)).toBe(true);
    for (const m of msgs) {
      expect(m.blocks.length).toBeLessThanOrEqual(LIMITS.blocks);
      for (const t of sectionTexts(m.blocks)) expect(t.length).toBeLessThanOrEqual(LIMITS.sectionText);
    }
  });
});
