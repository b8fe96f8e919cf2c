/**
 * Teams (on demand: `npm run bench -- teams`): the bot behind a real HTTP server, the real engine on
 * the fake model server, the fake Bot Framework channel recording every connector call.
 * - Invoke response time of an approval click (median, p99) while 100 group conversations are busy
 *   (their model answers take seconds, so 100 runs are in flight).
 * - From the model's first token to the first streamed text the connector receives (personal chat).
 * - Connector calls for one streamed reply of 1,000 tokens.
 */
import { performance } from 'node:perf_hooks';
import { createTeamsBot } from '../../src/bots/teams/index.js';
import { teamsSettings } from '../../src/bots/teams/config.js';
import { listenHttp } from '../../src/mcp/http.js';
import { describeEvent, preview, silentLogger } from '../../src/index.js';
import { openEngine } from '../engine.js';
import { quantile, round } from '../stats.js';
import { metric, type ScenarioOptions, type ScenarioResult } from '../types.js';
import { startFakeOpenAI } from '../../test/support/fake-openai.js';
import { ALICE, teamsActivity, startFakeTeams } from '../../test/support/fake-teams.js';
import { plannerReply } from '../../test/support/plans.js';

const BUSY = 100;
const BUSY_MODEL_MS = 15_000;

export async function teams(opts: ScenarioOptions): Promise<ScenarioResult> {
  const clicks = opts.quick ? 10 : 40;
  const longReply = Array.from({ length: 1_000 }, (_, i) => `w${i}`).join(' ');
  const model = await startFakeOpenAI({
    handler: (req) => {
      const said = req.lastUserText ?? '';
      if (req.agent === 'planner') return plannerReply(['code_agent', 'step']);
      if (said.includes('busy')) return { content: 'done being busy', latencyMs: BUSY_MODEL_MS };
      if (said.includes('long')) return { content: longReply, chunkSize: 4, usage: { prompt_tokens: 10, completion_tokens: 1_000 } };
      return { content: 'ok' };
    },
  });
  const fake = await startFakeTeams();
  const engine = await openEngine(model.url, { approvals: { policy: { who: 'conversation' } } } as never);
  const bot = createTeamsBot({ settings: teamsSettings({}, {})!, engine: engine.sb, helpers: { describeEvent, preview }, logger: silentLogger, bindHost: '127.0.0.1' });
  const http = await listenHttp({ host: '127.0.0.1', port: 0, logger: silentLogger, routes: { '/api/messages': bot.route } });
  fake.botEndpoint = `${http.url}/api/messages`;
  try {
    // 1. First token -> first streamed text, and calls per 1,000-token reply (nothing else running).
    const personal = teamsActivity.personal(fake, 'write something long');
    await fake.post(personal);
    const convId = (personal.conversation as { id: string }).id;
    await waitFor(() => fake.calls.some((c) => c.conversationId === convId && c.body.type === 'message'));
    const req = model.requests.find((r) => r.agent === 'proxy')!;
    // The first call carrying the reply's text: a streaming update, or the final message when the whole reply
    // arrived within the one-update-a-second window after the informative update.
    const firstText = fake.calls.find((c) => c.conversationId === convId && String(c.body.text ?? '').startsWith('w0'));
    const firstTokenToText = firstText ? firstText.at - req.startedAt : null;
    const callsPerReply = fake.calls.filter((c) => c.conversationId === convId).length;

    // 2. Approval clicks while 100 conversations are busy.
    for (let i = 0; i < BUSY; i++) {
      const a = teamsActivity.group(fake, `busy ${i}`, ALICE);
      (a.conversation as { id: string }).id = `19:busy-${i}@thread.v2`;
      await fake.post(a);
    }
    const times: number[] = [];
    for (let i = 0; i < clicks; i++) {
      const user = { id: `29:u${i}`, aadObjectId: `aad-u${i}`, name: `U${i}` };
      const planAct = teamsActivity.personal(fake, `plan goal ${i}`, {}, user);
      await fake.post(planAct);
      const conversation = planAct.conversation as Record<string, unknown>;
      const card = await fake.waitFor((c) => c.conversationId === conversation.id && JSON.stringify(c.body).includes('"verb":"approve"'), 'a plan card');
      const data = /"verb":"approve","data":(\{[^}]*\})/.exec(JSON.stringify(card.body))![1]!;
      const t0 = performance.now();
      const res = await fake.post(teamsActivity.invoke(fake, conversation, user, 'approve', JSON.parse(data)));
      times.push(performance.now() - t0);
      if (res.status !== 200) throw new Error(`click answered ${res.status}`);
    }
    const busyStill = (await engine.sb.listRuns({ statuses: ['queued', 'in_progress'] } as never)).length;
    await bot.idle();
    return {
      scenario: 'teams',
      title: 'Teams bot: approval clicks under load, streaming',
      params: { busyConversations: BUSY, busyModelMs: BUSY_MODEL_MS, clicks, replyTokens: 1_000 },
      metrics: [
        metric('invoke response, median (100 busy)', round(quantile(times, 0.5), 1), 'ms'),
        metric('invoke response, p99 (100 busy)', round(quantile(times, 0.99), 1), 'ms', { target: '< 3000 (Teams invoke timeout ~5 s)', ok: quantile(times, 0.99) < 3_000 }),
        metric('first token → first streamed text', firstTokenToText === null ? null : round(firstTokenToText, 1), 'ms', {
          note: `from the model request's arrival (the fake answers at once); first text came as ${firstText ? String((firstText.body.channelData as { streamType?: string } | undefined)?.streamType ?? 'a message') : 'nothing'}`,
        }),
        metric('connector calls per 1,000-token streamed reply', callsPerReply, 'calls', { note: 'the fake model streams the reply in well under a second: a slower model adds one call per second of streaming' }),
        metric('runs still in flight at the last click', busyStill, 'runs'),
      ],
    };
  } finally {
    await bot.close();
    await http.close();
    await engine.close();
    await fake.close();
    await model.close();
  }
}

async function waitFor(check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('bench teams: timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
