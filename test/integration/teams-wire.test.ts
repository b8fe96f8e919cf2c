/**
 * The connector calls in order, as the fake Bot Framework channel received them, for the two flows the
 * issue's closing note shows: a personal-chat reply that delegates, and a plan approved by clicks.
 * Each test asserts the sequence (every call's method, path and key body fields); `TEAMS_CALLS=1`
 * prints it (with the channel's posts to the bot interleaved) to stderr.
 */
import { appendFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { scriptByAgent } from '../support/fake-openai.js';
import { ALICE, teamsActivity, type ConnectorCall } from '../support/fake-teams.js';
import { until } from '../support/plans.js';
import { delegate } from '../support/replies.js';
import { startTeamsHarness, twoStepPlanScript, type TeamsHarness } from '../support/teams-harness.js';
import { cardOf, cardText, timeline, verbsOf } from '../support/teams-harness-views.js';

let t: TeamsHarness | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const streamType = (c: ConnectorCall) => (c.body.channelData as { streamType?: string } | undefined)?.streamType;
const PERSONAL = 'a:personal-aad-alice';
const ACTIVITIES = `/v3/conversations/${encodeURIComponent(PERSONAL)}/activities`;
const AI_LABEL = { type: 'https://schema.org/Message', '@type': 'Message', '@context': 'https://schema.org', '@id': '', additionalType: ['AIGeneratedContent'] };

function show(title: string, tt: TeamsHarness) {
  if (!process.env.TEAMS_CALLS) return;
  const text = `${title}\n${timeline(tt.teams).map((l) => `  ${l}`).join('\n')}\n`;
  if (process.env.TEAMS_CALLS === '1') process.stderr.write(text);
  else appendFileSync(process.env.TEAMS_CALLS, text + '\n');
}

describe('Teams connector calls in order', () => {
  it('a personal-chat reply that delegates: informative updates, then the growing text, then the final message', async () => {
    t = await startTeamsHarness();
    const answer = 'The picture shows a small grey cat asleep on a red mat, next to a bowl of water, a ball of blue yarn and a sunny window.';
    const tt = t;
    tt.h.fake.setHandler(
      scriptByAgent({
        // The answer streams over ~3 s (a token every 100 ms), so the one-update-a-second stream shows it growing.
        proxy: [delegate('vision_agent', 'Describe the picture'), { content: answer, chunkSize: 4, chunkIntervalMs: 100 }],
        // vision_agent answers once the delegation was shown as an informative update.
        vision_agent: [
          async () => {
            await tt.teams.waitFor((c) => streamType(c) === 'informative' && /vision_agent/.test(String(c.body.text)), 'the delegation as an informative update');
            return { content: 'a small grey cat on a red mat' };
          },
        ],
      }),
    );
    expect((await t.teams.post(teamsActivity.personal(t.teams, 'what is in the picture?'))).status).toBe(200);
    await t.teams.waitFor((c) => streamType(c) === 'final', 'the final message');
    await t.idle();
    show('Personal-chat reply that delegates (proxy → vision_agent), connector calls in order:', t);

    const calls = t.teams.calls;
    expect(calls.every((c) => c.method === 'POST' && c.path === ACTIVITIES && c.status === 200)).toBe(true);
    // The grammar of a Teams stream: informative updates, streaming updates, one final message.
    expect(calls.map((c) => `${String(c.body.type)} ${streamType(c)}`).join('\n')).toMatch(/^(typing informative\n)+(typing streaming\n)+message final$/);
    const streamId = calls[0]!.responseId!;
    const updates = calls.slice(0, -1);
    updates.forEach((c, i) => {
      const fields = { streamType: streamType(c), streamSequence: i + 1, ...(i ? { streamId } : {}) };
      expect(c.body.entities).toEqual([{ type: 'streaminfo', ...fields }]);
      expect(c.body.channelData).toEqual(fields);
    });
    expect(calls[0]!.raw).toContain('"entities":[{"type":"streaminfo","streamType":"informative","streamSequence":1}]');
    const informative = updates.filter((c) => streamType(c) === 'informative').map((c) => String(c.body.text));
    expect(informative[0]).toBe('proxy is working');
    expect(informative.some((x) => x === 'proxy → vision_agent: Describe the picture')).toBe(true);
    // Each streaming update carries the whole text so far; the final message extends the last one.
    const texts = updates.filter((c) => streamType(c) === 'streaming').map((c) => String(c.body.text));
    texts.forEach((x, i) => expect(i === 0 || x.startsWith(texts[i - 1]!)).toBe(true));
    const final = calls.at(-1)!;
    expect(final.body.text).toBe(answer);
    expect(answer.startsWith(texts.at(-1)!)).toBe(true);
    expect(final.body.channelData).toEqual({ streamType: 'final', streamId });
    expect(final.body.entities).toEqual([{ type: 'streaminfo', streamType: 'final', streamId }, AI_LABEL]);
  });

  it('a plan approved by clicks: one card posted, each click answered with the card, every step change edits that activity', async () => {
    t = await startTeamsHarness();
    t.h.fake.setHandler(twoStepPlanScript());
    const conversation = { id: PERSONAL, conversationType: 'personal', tenantId: t.teams.tenantId };
    await t.teams.post(teamsActivity.personal(t.teams, 'plan Ship the release notes'));
    let planId = '';
    for (const step of ['write the notes', 'check the screenshot']) {
      const waiting = new RegExp(`— ${step}\\n⏳`);
      const ready = await t.teams.waitFor((c) => waiting.test(cardText(cardOf(c.body))) && verbsOf(cardOf(c.body)).includes('approve'), `the card waiting on "${step}"`);
      await t.idle();
      const data = JSON.parse(/"verb":"approve","data":(\{[^}]*\})/.exec(JSON.stringify(cardOf(ready.body)))![1]!) as { id: string };
      planId = data.id;
      const click = await t.teams.post(teamsActivity.invoke(t.teams, conversation, ALICE, 'approve', data));
      expect(click).toMatchObject({ status: 200, body: { statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' } });
      expect(cardText((click.body as { value: unknown }).value)).toMatch(new RegExp(`— ${step}\\n.*approved by Alice`));
    }
    await until(async () => (await t!.sb.getPlan(planId)).status === 'completed' || undefined, 'the plan to complete');
    await t.teams.waitFor((c) => /Status: completed/.test(cardText(cardOf(c.body))), 'the card showing the plan completed');
    await t.idle();
    show('Plan approved by clicks (two steps), connector calls in order:', t);

    const calls = t.teams.calls;
    const [posted, ...edits] = calls;
    expect(posted).toMatchObject({ method: 'POST', path: ACTIVITIES, status: 200 });
    expect(cardOf(posted!.body)).toMatchObject({ type: 'AdaptiveCard', version: '1.5' });
    expect(edits.length).toBeGreaterThan(0);
    for (const e of edits) expect(e).toMatchObject({ method: 'PUT', path: `${ACTIVITIES}/${posted!.responseId}`, status: 200, body: { type: 'message', id: posted!.responseId } });
    // The states the card went through: in plan order (edits of one event burst may coalesce), with both waits and the end.
    const ORDER = ['planning', 'awaiting approval: 1 ⏳ 2 ◻️', 'running: 1 👍 2 ◻️', 'running: 1 ⚙️ 2 ◻️', 'running: 1 ✅ 2 ◻️', 'awaiting approval: 1 ✅ 2 ⏳', 'running: 1 ✅ 2 👍', 'running: 1 ✅ 2 ⚙️', 'completed: 1 ✅ 2 ✅'];
    const states = calls.map((c) => {
      const text = cardText(cardOf(c.body));
      const steps = [...text.matchAll(/\*\*(\d+)\. [a-z_]+\*\*[^\n]*\n(\S+)/g)].map((m) => `${m[1]} ${m[2]}`).join(' ');
      return `${/Status: ([a-z ]+)/.exec(text)![1]}${steps ? `: ${steps}` : ''}`;
    });
    let at = -1;
    for (const s of states) {
      const i = ORDER.indexOf(s, at);
      expect(i, `card state "${s}" out of order in ${JSON.stringify(states)}`).toBeGreaterThanOrEqual(at);
      at = i;
    }
    expect(states).toEqual(expect.arrayContaining(['awaiting approval: 1 ⏳ 2 ◻️', 'awaiting approval: 1 ✅ 2 ⏳', 'completed: 1 ✅ 2 ✅']));
    expect(states.at(-1)).toBe('completed: 1 ✅ 2 ✅');
    // Buttons only while a step waits, and only on that step.
    calls.forEach((c, i) => expect(verbsOf(cardOf(c.body))).toEqual(states[i]!.startsWith('awaiting') ? ['approve', 'reject', 'edit'] : []));
  });
});
