import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createSwitchboard, silentLogger, type ChatRequest, type ChatResult, type ModelClient } from '../../src/index.js';

type ChatOptions = NonNullable<Parameters<ModelClient['chat']>[1]>;
import { createSlackBot, slackSettings } from '../../src/bots/slack/index.js';
import { listenHttp } from '../../src/mcp/http.js';
import { eventEnvelope, startFakeSlack, type FakeTeam, type SlackCall } from '../../test/support/fake-slack.js';
import { fmt, quantile } from '../stats.js';
import { metric, type ScenarioOptions, type ScenarioResult } from '../types.js';

const ACK_TARGET_MS = 50;

/**
 * Slack's published tiers for the methods the bot calls, per workspace and minute (Tier 2: 20+, Tier 3:
 * 50+, Tier 4: 100+); the fake Slack answers 429 beyond them. The status methods have "special" limits
 * Slack does not publish as a number: they are measured, not enforced.
 */
export const SLACK_TIERS: Record<string, number> = {
  'chat.startStream': 20,
  'chat.stopStream': 20,
  'chat.appendStream': 100,
  'chat.update': 50,
  'chat.postEphemeral': 100,
  'views.open': 100,
  'assistant.threads.setSuggestedPrompts': 100,
  'files.getUploadURLExternal': 100,
  'files.completeUploadExternal': 100,
};

const BUSY_TEAM: FakeTeam = { id: 'T1', botToken: 'xoxb-t1-token', botUserId: 'UBOT1', botId: 'B1' };
const QUIET_TEAM: FakeTeam = { id: 'T2', botToken: 'xoxb-t2-token', botUserId: 'UBOT2', botId: 'B2' };

/**
 * A model in this process whose replies the scenario paces: `busy` ones wait until released (100
 * conversations at work), others stream `tokens` words, pausing every 50 (a model writing), and note
 * when the first word left the model.
 */
function pacedModel(tokens: number) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const firstToken = new Map<string, number>();
  const client: ModelClient = {
    async chat(request: ChatRequest, options: ChatOptions = {}): Promise<ChatResult> {
      const last = [...request.messages].reverse().find((m) => m.role === 'user');
      const text = typeof last?.content === 'string' ? last.content : '';
      const base = { usage: { promptTokens: 10, completionTokens: tokens }, model: request.model, latencyMs: 0, toolCalls: [], finishReason: 'stop' as const };
      if (text.startsWith('busy')) {
        await released;
        return { ...base, content: 'done' };
      }
      const words: string[] = [];
      for (let i = 0; i < tokens; i++) {
        const w = `w${i} `;
        if (i === 0) firstToken.set(text, performance.now());
        options.onDelta?.(w);
        words.push(w);
        if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20));
      }
      return { ...base, content: words.join('') };
    },
    generateImage: () => Promise.reject(new Error('no images in this bench')),
  };
  return { client, release, firstToken };
}

async function waitFor<T>(check: () => T | undefined, what: string, timeoutMs = 120_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`slack bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * The Slack bot's costs (issue 10), the real bot over signed HTTP, the real engine on SQLite, a fake
 * Slack that enforces the tiers above:
 * - ack time of a mention while 100 conversations are busy (workspace T1; each probe is one more);
 * - the model's first token -> the first text Slack shows, and the Web API calls of one streamed reply
 *   of 1,000 tokens (in workspace T2, so T1's queued stream starts do not stand in front of it);
 * - the highest per-method rate per workspace, calls in any 60-s window, with the busy phase held for a
 *   whole minute (not in --quick), and the 429s Slack would have answered.
 */
export async function slack(opts: ScenarioOptions): Promise<ScenarioResult> {
  const busy = 100;
  const probes = opts.quick ? 50 : 200;
  const holdMs = opts.quick ? 0 : 62_000;
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-slack-'));
  const fake = await startFakeSlack({ teams: [BUSY_TEAM, QUIET_TEAM], limits: SLACK_TIERS });
  const model = pacedModel(1_000);
  const sb = await createSwitchboard({ config: { store: { type: 'sqlite', path: join(dir, 'sb.db') }, workspaceDir: join(dir, 'ws') }, model: model.client, cwd: dir, logger: silentLogger });
  const workspaces = { T1: { botToken: BUSY_TEAM.botToken }, T2: { botToken: QUIET_TEAM.botToken } };
  const bot = createSlackBot({ engine: sb, logger: silentLogger, settings: slackSettings({ signingSecret: fake.signingSecret, apiUrl: fake.apiUrl, workspaces }, {}, 'http') });
  await bot.start();
  const host = await listenHttp({ host: '127.0.0.1', port: 0, logger: silentLogger, routes: { '/slack/events': bot.handle } });
  const url = `${host.url}/slack/events`;
  let seq = 0;
  const mention = (team: FakeTeam, text: string) => {
    const ts = `17100${String(++seq).padStart(5, '0')}.000100`;
    return eventEnvelope(team.id, { type: 'app_mention', user: 'U1', text: `<@${team.botUserId}> ${text}`, ts, channel: team === BUSY_TEAM ? 'C1' : 'C2', channel_type: 'channel' });
  };
  try {
    const t0 = performance.now();
    for (let i = 0; i < busy; i++) await fake.postEvent(url, mention(BUSY_TEAM, `busy ${i}`));
    const acks: number[] = [];
    for (let i = 0; i < probes; i++) {
      const body = mention(BUSY_TEAM, `busy probe ${i}`);
      const a = performance.now();
      const r = await fake.postEvent(url, body);
      acks.push(performance.now() - a);
      if (r.status !== 200) throw new Error(`probe ${i} answered ${r.status}`);
    }

    // One streamed reply of 1,000 tokens in the quiet workspace, while T1's conversations still wait.
    const t2 = (c: SlackCall) => c.team === QUIET_TEAM.id && c.method !== 'auth.test';
    await fake.postEvent(url, mention(QUIET_TEAM, 'long reply please'));
    const shown = await waitFor(() => fake.calls.find((c) => t2(c) && /chat\.(start|append)Stream/.test(c.method) && String(c.args.chunks ?? '').includes('markdown_text'))?.at, 'the first text');
    const first = model.firstToken.get('long reply please')!;
    await waitFor(() => fake.calls.find((c) => t2(c) && c.method === 'agents.sessions.setStatus' && c.args.status === 'active'), 'the reply to end');
    const reply = fake.calls.filter(t2);
    const replyByMethod = countBy(reply);

    // The busy workspace for a whole minute: its queued stream starts and statuses go out at their budget.
    const left = t0 + holdMs - performance.now();
    if (left > 0) await new Promise((r) => setTimeout(r, left));
    const windowMs = Math.round(performance.now() - t0);
    const rates = perMinute(fake.calls.filter((c) => c.method !== 'auth.test'));
    const top = rates[0] ?? { team: '-', method: '-', count: 0 };
    const overTier = rates.filter((r) => SLACK_TIERS[r.method] !== undefined && r.count > SLACK_TIERS[r.method]!);
    model.release();
    return {
      scenario: 'slack',
      title: 'Slack bot: ack under load, first visible text, Web API calls per reply and per minute',
      params: { busyConversations: busy, probes, replyTokens: 1_000, flushMs: 800, observedMs: windowMs },
      metrics: [
        metric('ack time with 100 busy conversations, median', Number(fmt(quantile(acks, 0.5))), 'ms'),
        metric('ack time with 100 busy conversations, p99', Number(fmt(quantile(acks, 0.99))), 'ms', { target: `< ${ACK_TARGET_MS} (Slack allows 3,000)`, ok: quantile(acks, 0.99) < ACK_TARGET_MS }),
        metric('model first token -> first text visible in Slack', Number(fmt(shown - first)), 'ms'),
        metric('Web API calls per streamed reply of 1,000 tokens', reply.length, 'calls', { note: Object.entries(replyByMethod).map(([m, n]) => `${m} ${n}`).join(', ') }),
        metric(`highest per-method rate in one workspace (${top.team} ${top.method})`, top.count, 'calls/min', {
          target: 'inside each tier',
          ok: overTier.length === 0,
          note: `busiest 60 s of ${windowMs} ms; ${rates.slice(0, 6).map((r) => `${r.team} ${r.method} ${r.count}${SLACK_TIERS[r.method] ? ` (tier ${SLACK_TIERS[r.method]})` : ' (special)'}`).join(', ')}`,
        }),
        metric('429 answers (fake Slack enforcing the tiers)', fake.throttled.length, 'calls', { target: '0', ok: fake.throttled.length === 0 }),
      ],
      details: { callsByMethod: countBy(fake.calls), ratesPerMinute: rates, replyCalls: replyByMethod, throttled: fake.throttled.map((c) => `${c.team} ${c.method}`) },
    };
  } finally {
    model.release();
    await bot.stop();
    await host.close();
    await sb.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function countBy(calls: readonly SlackCall[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of calls) out[c.method] = (out[c.method] ?? 0) + 1;
  return out;
}

/** Per workspace and method, the most calls in any 60-s window; busiest first. */
export function perMinute(calls: readonly { team: string | null; method: string; at: number }[]): { team: string; method: string; count: number }[] {
  const byKey = new Map<string, number[]>();
  for (const c of calls) {
    const key = `${c.team ?? '-'} ${c.method}`;
    const list = byKey.get(key);
    if (list) list.push(c.at);
    else byKey.set(key, [c.at]);
  }
  const out: { team: string; method: string; count: number }[] = [];
  for (const [key, times] of byKey) {
    let best = 0;
    for (let lo = 0, hi = 0; hi < times.length; hi++) {
      while (times[hi]! - times[lo]! >= 60_000) lo++;
      best = Math.max(best, hi - lo + 1);
    }
    const [team, method] = key.split(' ') as [string, string];
    out.push({ team, method, count: best });
  }
  return out.sort((a, b) => b.count - a.count);
}
