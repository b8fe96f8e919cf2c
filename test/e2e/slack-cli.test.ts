/**
 * The README's two Slack commands, as built: `switchboard serve` mounts /slack/events beside /mcp when
 * SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are set, and `switchboard slack --socket` connects over Socket
 * Mode; each answers a mention in its thread (fake Slack via SLACK_API_URL, fake model); and a reply
 * under way when serve is killed (SIGKILL) reaches its thread once serve runs again.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, freePort, servingAt, spawnServing, type ServingCli } from '../support/cli.js';
import { scriptByAgent, startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { DEFAULT_TEAM, eventEnvelope, startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { until } from '../support/plans.js';

let model: FakeOpenAI;
let slack: FakeSlack;
let dir: string;
let cli: ServingCli | undefined;

beforeEach(async () => {
  assertBuilt();
  model = await startFakeOpenAI({ handler: scriptByAgent({ proxy: [{ content: 'Hello from the CLI.' }] }) });
  slack = await startFakeSlack();
  dir = mkdtempSync(join(tmpdir(), 'sb-slack-cli-'));
});
afterEach(async () => {
  await cli?.stop();
  cli = undefined;
  await slack.close();
  await model.close();
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[], env: Record<string, string>) {
  cli = spawnServing(args, dir, { OPENAI_BASE_URL: model.url, OPENAI_API_KEY: 'sk-test-secret-key', SLACK_API_URL: slack.apiUrl, SLACK_BOT_TOKEN: DEFAULT_TEAM.botToken, ...env });
  return cli;
}

const mention = (ts: string) => eventEnvelope('T1', { type: 'app_mention', user: 'U1', text: '<@UBOT1> hello', ts, channel: 'C1', channel_type: 'channel' });

describe('switchboard serve and switchboard slack --socket', () => {
  it('serve answers a signed mention at /slack/events, on the same server as /mcp', async () => {
    const port = await freePort();
    const base = await servingAt(port, start(['serve', '--port', String(port)], { SLACK_SIGNING_SECRET: slack.signingSecret }));
    expect(cli!.stderr()).toContain(`Slack at ${base}/slack/events`);
    expect((await slack.postEvent(`${base}/slack/events`, mention('1700000900.000100'))).status).toBe(200);
    await until(() => slack.messages.find((m) => m.stream === 'stopped'), 'the streamed reply', 20_000);
    expect(slack.messages.find((m) => m.stream)).toMatchObject({ thread_ts: '1700000900.000100', text: 'Hello from the CLI.' });
    expect((await slack.postEvent(`${base}/slack/events`, mention('1700000901.000100'), { secret: 'wrong' })).status).toBe(401);
  });

  it('slack --socket connects with the app token and answers a mention', async () => {
    start(['slack', '--socket'], { SLACK_APP_TOKEN: slack.appToken });
    await until(() => slack.socket.connections > 0, `the socket (stderr: ${cli!.stderr()})`, 20_000);
    await slack.socket.send('events_api', mention('1700000950.000100'));
    await until(() => slack.messages.find((m) => m.stream === 'stopped'), 'the streamed reply', 20_000);
    expect(slack.messages.find((m) => m.stream)).toMatchObject({ thread_ts: '1700000950.000100', text: 'Hello from the CLI.' });
  });

  it('finishes a reply in its thread after serve was killed mid-reply (SIGKILL) and started again', async () => {
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    let requests = 0;
    // The first life's model call never answers; the run, adopted by the second life, asks again.
    model.setHandler(async () => (++requests === 1 ? (await hold, { content: 'too late' }) : { content: 'Finished after the crash.' }));
    // A short beat, so the dead driver's silence shows soon (default 20 s).
    writeFileSync(join(dir, 'switchboard.yaml'), 'slack:\n  replyBeatMs: 100\n');
    const port = await freePort();
    const env = { SLACK_SIGNING_SECRET: slack.signingSecret };
    try {
      const base = await servingAt(port, start(['serve', '--port', String(port)], env));
      expect((await slack.postEvent(`${base}/slack/events`, mention('1700000990.000100'))).status).toBe(200);
      await until(() => requests === 1 && slack.messages.find((m) => m.stream === 'streaming'), 'the reply under way', 20_000);
      await cli!.kill('SIGKILL');
      await servingAt(port, start(['serve', '--port', String(port)], env));
      const answer = await until(() => slack.messages.find((m) => m.thread_ts === '1700000990.000100' && !m.stream && m.text.includes('Finished after the crash.')), `the answer in the thread (model requests: ${requests}; stderr: ${cli!.stderr()})`, 45_000);
      expect(answer.text).toBe('Finished after the crash.');
      await until(() => slack.callsOf('agents.sessions.setStatus').at(-1)?.args.status === 'active', 'the session at rest');
      expect(slack.messages.filter((m) => m.text.includes('Finished after the crash.'))).toHaveLength(1);
    } finally {
      release();
    }
  }, 60_000);
});
