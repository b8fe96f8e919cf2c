/**
 * Teams (on demand: `npm run bench -- teams`): the bot behind a real HTTP server, the real engine on
 * the fake model server (real HTTP, streamed answers paced like a model writing), the fake Bot
 * Framework channel recording every connector call.
 * - From the model's first token (the fake writing its first content delta) to the first streamed text
 *   the connector receives, in a personal chat: once with the first token at once (the informative
 *   update just went out, so Teams' one-update-a-second rule holds the text back) and once after 1.5 s.
 * - Connector calls for one streamed reply of 1,000 tokens written at 100 tokens/s.
 * - Invoke response time of an approval click (median, p99) while 100 personal chats are busy
 *   streaming long replies (their stream updates share the tenant's 50 calls/s with the cards).
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
import { teamsActivity, startFakeTeams, type ConnectorCall } from '../../test/support/fake-teams.js';
import { plannerReply } from '../../test/support/plans.js';

const BUSY = 100;
const REPLY_TOKENS = 1_000;
const TOKEN_MS = 10;
/** Long enough (300 s at 10 tokens/s) to keep every busy conversation streaming past the last click; closing ends them. */
const BUSY_TOKENS = 3_000;
const BUSY_TOKEN_MS = 100;
const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i} `).join('');

export async function teams(opts: ScenarioOptions): Promise<ScenarioResult> {
  const clicks = opts.quick ? 5 : 40;
  const busy = opts.quick ? 10 : BUSY;
  const model = await startFakeOpenAI({
    handler: (req) => {
      const said = req.lastUserText ?? '';
      if (req.agent === 'planner') return plannerReply(['code_agent', 'step']);
      if (said.startsWith('busy')) return { content: words(BUSY_TOKENS), chunkIntervalMs: BUSY_TOKEN_MS };
      if (said.startsWith('long')) return { content: words(REPLY_TOKENS), chunkIntervalMs: TOKEN_MS, usage: { prompt_tokens: 10, completion_tokens: REPLY_TOKENS } };
      if (said.startsWith('late')) return { content: words(50), latencyMs: 1_500, chunkIntervalMs: TOKEN_MS };
      return { content: 'ok' };
    },
  });
  const fake = await startFakeTeams();
  const engine = await openEngine(model.url, { approvals: { policy: { who: 'conversation' } } } as never);
  const bot = createTeamsBot({ settings: teamsSettings({}, {})!, engine: engine.sb, helpers: { describeEvent, preview }, logger: silentLogger, bindHost: '127.0.0.1' });
  const http = await listenHttp({ host: '127.0.0.1', port: 0, logger: silentLogger, routes: { '/api/messages': bot.route } });
  fake.botEndpoint = `${http.url}/api/messages`;
  const user = (name: string) => ({ id: `29:${name}`, aadObjectId: `aad-${name}`, name });
  const inConversation = (id: string) => fake.calls.filter((c) => c.conversationId === id);
  const isFinal = (c: ConnectorCall) => c.body.type === 'message' && (c.body.channelData as { streamType?: string } | undefined)?.streamType === 'final';

  /** One personal-chat reply, nothing else running: the first token → first text, its calls, its duration. */
  async function streamedReply(text: string, who: string) {
    const a = teamsActivity.personal(fake, text, {}, user(who));
    const convId = (a.conversation as { id: string }).id;
    await fake.post(a);
    await waitFor(() => inConversation(convId).some(isFinal), 120_000);
    const req = model.requests.find((r) => r.agent === 'proxy' && JSON.stringify(r.body.messages).includes(text))!;
    const calls = inConversation(convId);
    const firstText = calls.find((c) => String(c.body.text ?? '').startsWith('w0'))!;
    return { firstTokenToText: firstText.at - req.firstContentAt!, firstTextAs: (firstText.body.channelData as { streamType?: string }).streamType, calls, streamMs: calls.at(-1)!.at - calls[0]!.at };
  }

  try {
    const long = await streamedReply('long reply please', 'quiet1');
    const late = await streamedReply('late reply please', 'quiet2');

    // 100 personal chats streaming long replies, then approval clicks in other chats.
    for (let i = 0; i < busy; i++) await fake.post(teamsActivity.personal(fake, `busy ${i}`, {}, user(`busy${i}`)));
    await waitFor(() => model.requests.filter((r) => r.firstContentAt !== undefined && JSON.stringify(r.body.messages).includes('busy')).length >= busy);
    const times: number[] = [];
    let leastBusy = Infinity;
    for (let i = 0; i < clicks; i++) {
      leastBusy = Math.min(leastBusy, (await engine.sb.listRuns({ statuses: ['queued', 'in_progress'] })).filter((r) => r.input?.content.startsWith('busy')).length);
      const who = user(`u${i}`);
      const planAct = teamsActivity.personal(fake, `plan goal ${i}`, {}, who);
      await fake.post(planAct);
      const conversation = planAct.conversation as Record<string, unknown>;
      const card = await fake.waitFor((c) => c.conversationId === conversation.id && JSON.stringify(c.body).includes('"verb":"approve"'), 'a plan card');
      const data = /"verb":"approve","data":(\{[^}]*\})/.exec(JSON.stringify(card.body))![1]!;
      const t0 = performance.now();
      const res = await fake.post(teamsActivity.invoke(fake, conversation, who, 'approve', JSON.parse(data)));
      times.push(performance.now() - t0);
      if (res.status !== 200) throw new Error(`click answered ${res.status}`);
    }
    const busyStill = (await engine.sb.listRuns({ statuses: ['queued', 'in_progress'] })).length;
    const kinds = (calls: ConnectorCall[]) => calls.map((c) => (c.body.channelData as { streamType?: string } | undefined)?.streamType ?? String(c.body.type));
    const count = (calls: ConnectorCall[], k: string) => kinds(calls).filter((x) => x === k).length;
    return {
      scenario: 'teams',
      title: 'Teams bot: approval clicks under load, streaming',
      params: { busyConversations: busy, busyTokens: BUSY_TOKENS, busyTokenMs: BUSY_TOKEN_MS, clicks, replyTokens: REPLY_TOKENS, tokenMs: TOKEN_MS },
      metrics: [
        metric(`invoke response, median (${busy} busy)`, round(quantile(times, 0.5), 1), 'ms', {
          note: `from the channel's POST to the bot's answer; the fake model (${busy} streams at ${1000 / BUSY_TOKEN_MS} tokens/s) and the fake channel run in this process, so they share its event loop with the bot`,
        }),
        metric(`invoke response, p99 (${busy} busy)`, round(quantile(times, 0.99), 1), 'ms', { target: '< 3000 (Teams invoke timeout ~5 s)', ok: quantile(times, 0.99) < 3_000 }),
        metric('first token → first streamed text (token at once)', round(long.firstTokenToText, 1), 'ms', {
          note: `came as ${long.firstTextAs}; the informative update went out as the run started, and Teams allows one update a second`,
        }),
        metric('first token → first streamed text (token after 1.5 s)', round(late.firstTokenToText, 1), 'ms', { note: `came as ${late.firstTextAs}` }),
        metric(`connector calls per ${REPLY_TOKENS}-token streamed reply`, long.calls.length, 'calls', {
          note: `${count(long.calls, 'informative')} informative + ${count(long.calls, 'streaming')} streaming + ${count(long.calls, 'final')} final, over ${round(long.streamMs / 1000, 1)} s at ${1000 / TOKEN_MS} tokens/s`,
        }),
        metric(`busy conversations still streaming at each click (least)`, leastBusy, 'runs', { target: `= ${busy}`, ok: leastBusy === busy }),
        metric(`runs still in flight at the last click`, busyStill, 'runs'),
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
