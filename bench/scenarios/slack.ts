import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createSwitchboard, silentLogger, type ChatRequest, type ChatResult, type ModelClient } from '../../src/index.js';

type ChatOptions = NonNullable<Parameters<ModelClient['chat']>[1]>;
import { createSlackBot, slackSettings } from '../../src/bots/slack/index.js';
import { listenHttp } from '../../src/mcp/http.js';
import { DEFAULT_TEAM, eventEnvelope, startFakeSlack } from '../../test/support/fake-slack.js';
import { fmt, quantile } from '../stats.js';
import { metric, type ScenarioOptions, type ScenarioResult } from '../types.js';

const ACK_TARGET_MS = 50;

/**
 * A model in this process whose replies the scenario paces: `busy` ones wait until released (100
 * conversations at work), `long` ones stream `tokens` words, pausing every 50 (a model writing), and
 * note when the first word left the model.
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

/**
 * The Slack bot's costs (issue 10): the ack time of an event while 100 conversations are busy, the time
 * from the model's first token to the first text Slack shows, and the Web API calls one streamed reply
 * of 1,000 tokens makes. The real bot over signed HTTP, the real engine on SQLite, the fake Slack.
 */
export async function slack(opts: ScenarioOptions): Promise<ScenarioResult> {
  const busy = 100;
  const probes = opts.quick ? 50 : 200;
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-slack-'));
  const fake = await startFakeSlack();
  const model = pacedModel(1_000);
  const sb = await createSwitchboard({ config: { store: { type: 'sqlite', path: join(dir, 'sb.db') }, workspaceDir: join(dir, 'ws') }, model: model.client, cwd: dir, logger: silentLogger });
  const bot = createSlackBot({ engine: sb, logger: silentLogger, settings: slackSettings({ signingSecret: fake.signingSecret, apiUrl: fake.apiUrl, workspaces: { T1: { botToken: DEFAULT_TEAM.botToken } } }, {}, 'http') });
  await bot.start();
  const host = await listenHttp({ host: '127.0.0.1', port: 0, logger: silentLogger, routes: { '/slack/events': bot.handle } });
  const url = `${host.url}/slack/events`;
  let seq = 0;
  const mention = (text: string) => {
    const ts = `17100${String(++seq).padStart(5, '0')}.000100`;
    return { ts, body: eventEnvelope('T1', { type: 'app_mention', user: 'U1', text: `<@UBOT1> ${text}`, ts, channel: 'C1', channel_type: 'channel' }) };
  };
  try {
    for (let i = 0; i < busy; i++) await fake.postEvent(url, mention(`busy ${i}`).body);
    const acks: number[] = [];
    for (let i = 0; i < probes; i++) {
      const { body } = mention(`busy probe ${i}`);
      const t0 = performance.now();
      const r = await fake.postEvent(url, body);
      acks.push(performance.now() - t0);
      if (r.status !== 200) throw new Error(`probe ${i} answered ${r.status}`);
    }

    // One streamed reply of 1,000 tokens, while the others still wait.
    const before = fake.calls.length;
    const { body } = mention('long reply please');
    await fake.postEvent(url, body);
    const shown = await (async () => {
      for (;;) {
        const call = fake.calls.slice(before).find((c) => (c.method === 'chat.appendStream' || c.method === 'chat.startStream') && String(c.args.chunks ?? '').includes('markdown_text'));
        if (call) return call.at;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const first = model.firstToken.get('long reply please')!;
    for (;;) {
      if (fake.calls.slice(before).some((c) => c.method === 'chat.stopStream')) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 50));
    // The busy conversations wait on the model (their status refresh is 90 s away): every call since is this reply's.
    const perReply = fake.calls.length - before;
    // The busy phase only: releasing every waiting reply at once is a burst no workspace makes.
    const peak = peakPerSecond(fake.calls);
    model.release();
    const byMethod = new Map<string, number>();
    for (const c of fake.calls) byMethod.set(c.method, (byMethod.get(c.method) ?? 0) + 1);
    return {
      scenario: 'slack',
      title: 'Slack bot: ack under load, first visible text, Web API calls per reply',
      params: { busyConversations: busy, probes, replyTokens: 1_000, flushMs: 800 },
      metrics: [
        metric('ack time with 100 busy conversations, median', Number(fmt(quantile(acks, 0.5))), 'ms'),
        metric('ack time with 100 busy conversations, p99', Number(fmt(quantile(acks, 0.99))), 'ms', { target: `< ${ACK_TARGET_MS}`, ok: quantile(acks, 0.99) < ACK_TARGET_MS }),
        metric('model first token -> first text visible in Slack', Number(fmt(shown - first)), 'ms'),
        metric('Web API calls per streamed reply of 1,000 tokens', perReply, 'calls'),
        metric(`highest per-method rate in one workspace (${peak.method})`, peak.count, 'calls in 1 s', { note: `while ${busy} + ${probes} conversations start and work` }),
      ],
      details: { callsByMethod: Object.fromEntries(byMethod) },
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

/** The method called most within any one second, and how often. */
function peakPerSecond(calls: readonly { method: string; at: number }[]): { method: string; count: number } {
  let best = { method: '-', count: 0 };
  const byMethod = new Map<string, number[]>();
  for (const c of calls) byMethod.set(c.method, [...(byMethod.get(c.method) ?? []), c.at]);
  for (const [method, times] of byMethod) {
    let lo = 0;
    for (let hi = 0; hi < times.length; hi++) {
      while (times[hi]! - times[lo]! > 1_000) lo++;
      if (hi - lo + 1 > best.count) best = { method, count: hi - lo + 1 };
    }
  }
  return best;
}
