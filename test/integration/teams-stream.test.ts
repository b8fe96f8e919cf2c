/**
 * The Teams connector path without the engine: botbuilder's real connector client, our retrying,
 * rate-limited wrapper and the personal-chat stream, against the fake channel, time on a fake clock.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBotAdapter } from '../../src/bots/teams/adapter.js';
import { teamsSettings } from '../../src/bots/teams/config.js';
import { ConnectorCallError, TeamsConnector, type Target } from '../../src/bots/teams/connector.js';
import { MAX_MESSAGE_CHARS } from '../../src/bots/teams/pieces.js';
import { PersonalStream } from '../../src/bots/teams/streaming.js';
import { silentLogger } from '../../src/index.js';
import { FakeClock } from '../support/fake-clock.js';
import { startFakeTeams, type FakeTeams } from '../support/fake-teams.js';

let fake: FakeTeams;
let clock: FakeClock;
let connector: TeamsConnector;
let target: Target;

beforeEach(async () => {
  fake = await startFakeTeams();
  clock = new FakeClock();
  const bot = createBotAdapter(teamsSettings({}, {})!, silentLogger);
  connector = new TeamsConnector({ clientFor: bot.clientFor, checkServiceUrl: bot.checkServiceUrl, clock });
  target = { serviceUrl: fake.serviceUrl, conversationId: 'a:personal-alice', tenantId: fake.tenantId };
});
afterEach(() => fake.close());

describe('Teams connector wrapper', () => {
  it('honours a 429 Retry-After, then retries 412, 502 and 504 with backoff, and the activity arrives once', async () => {
    fake.inject({ status: 429, headers: { 'retry-after': '7' }, times: 1 });
    fake.inject({ status: 412, times: 1 });
    fake.inject({ status: 502, times: 1 });
    fake.inject({ status: 504, times: 1 });
    const sent = connector.send(target, { type: 'message', text: 'hello' });
    await fake.waitFor((c) => c.status === 429);
    await clock.advance(7_000);
    await fake.waitFor((c) => c.status === 412);
    await clock.advance(1_000);
    await fake.waitFor((c) => c.status === 502);
    await clock.advance(2_000);
    await fake.waitFor((c) => c.status === 504);
    await clock.advance(4_000);
    expect(await sent).toMatch(/^act-/);
    expect(fake.calls.map((c) => c.status)).toEqual([429, 412, 502, 504, 200]);
    expect(clock.sleeps).toContain(7_000);
    expect(fake.calls.at(-1)!.body.text).toBe('hello');
  });

  it('gives up with a typed error on a 400 (no retry) and refuses a non-loopback serviceUrl in anonymous mode', async () => {
    fake.inject({ status: 400, times: 1 });
    await expect(connector.send(target, { type: 'message', text: 'x' })).rejects.toBeInstanceOf(ConnectorCallError);
    expect(fake.calls).toHaveLength(1);
    await expect(connector.send({ ...target, serviceUrl: 'https://evil.example.com/' }, { type: 'message', text: 'x' })).rejects.toThrow(/loopback/);
    expect(fake.calls).toHaveLength(1);
  });

  it('keeps one conversation inside 7 operations a second', async () => {
    const sends = Array.from({ length: 9 }, (_, i) => connector.send(target, { type: 'message', text: `m${i}` }));
    await fake.waitFor(() => fake.calls.length === 7);
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.calls).toHaveLength(7);
    await clock.advance(1_000);
    await fake.waitFor(() => fake.calls.length === 8);
    await clock.advance(1_000);
    await Promise.all(sends);
    expect(fake.calls).toHaveLength(9);
  });
});

/** A stream that showed "Hello"; Teams answers the next update with 403 and this message. */
async function refusedUpdate(message: string) {
  const seen: { stopped: boolean; ended: string | null } = { stopped: false, ended: null };
  const stream = new PersonalStream({ connector, target, clock, onStopped: () => (seen.stopped = true), onEnded: (why) => (seen.ended = why) });
  stream.text('Hello');
  await fake.waitFor((c) => c.body.text === 'Hello');
  fake.inject({ status: 403, body: { error: { code: 'ContentStreamNotAllowed', message } }, times: 1 });
  stream.text('Hello there');
  await clock.advance(1_000);
  await fake.waitFor((c) => c.status === 403);
  await new Promise((r) => setTimeout(r, 30));
  return { stream, seen };
}

/** ~24,000 characters in paragraphs of 50 words: more than one Teams message holds. */
const LONG = Array.from({ length: 60 }, (_, p) => Array.from({ length: 50 }, (_, w) => `p${p}w${w}`).join(' ')).join('\n\n');
const words = (s: string) => s.replace(/\s+/g, ' ').trim();

describe('personal-chat stream', () => {
  it('sends informative updates, then the growing text at most once a second, then the final message; stream fields on the wire', async () => {
    const stream = new PersonalStream({ connector, target, clock });
    stream.informative('vision_agent is looking at the image…');
    const first = await fake.waitFor((c) => c.body.type === 'typing');
    stream.text('The image');
    stream.text('The image shows');
    // Nothing more within the same second: one update per second, carrying the whole text so far.
    await new Promise((r) => setTimeout(r, 30));
    expect(fake.calls).toHaveLength(1);
    await clock.advance(1_000);
    const second = await fake.waitFor((c) => c.body.text === 'The image shows');
    stream.text('The image shows a cat.');
    await clock.advance(1_000);
    await fake.waitFor((c) => c.body.text === 'The image shows a cat.');
    // The final message keeps the one-a-second pace too.
    const finished = stream.finish({ text: 'The image shows a cat.' });
    await new Promise((r) => setTimeout(r, 30));
    expect(fake.calls).toHaveLength(3);
    await clock.advance(1_000);
    await finished;
    const final = fake.calls.at(-1)!;

    expect(first.raw).toContain('"entities":[{"type":"streaminfo","streamType":"informative","streamSequence":1}]');
    expect(first.body.channelData).toEqual({ streamType: 'informative', streamSequence: 1 });
    const streamId = 'act-1';
    expect(second.body.entities).toEqual([{ type: 'streaminfo', streamType: 'streaming', streamSequence: 2, streamId }]);
    expect(second.body.channelData).toEqual({ streamType: 'streaming', streamSequence: 2, streamId });
    expect(final.body.type).toBe('message');
    expect(final.body.channelData).toEqual({ streamType: 'final', streamId });
    expect(final.body.entities).toEqual([
      { type: 'streaminfo', streamType: 'final', streamId },
      { type: 'https://schema.org/Message', '@type': 'Message', '@context': 'https://schema.org', '@id': '', additionalType: ['AIGeneratedContent'] },
    ]);
    expect(fake.calls.map((c) => c.body.type)).toEqual(['typing', 'typing', 'typing', 'message']);
  });

  it('a text longer than one message: the stream stops growing at the limit, closes with what it showed, and the rest follows in pieces', async () => {
    const stream = new PersonalStream({ connector, target, clock });
    const shown = LONG.slice(0, LONG.indexOf('p20w0') - 2);
    stream.text(shown);
    await fake.waitFor((c) => c.body.text === shown);
    stream.text(LONG); // past one message: not sent as an update
    await clock.advance(1_000);
    const finished = stream.finish({ text: LONG });
    await clock.advance(1_000);
    await finished;
    const [update, final, ...rest] = fake.calls;
    expect(update!.body.text).toBe(shown);
    expect(final!.body).toMatchObject({ type: 'message', text: shown, channelData: { streamType: 'final' } });
    expect(rest.length).toBeGreaterThanOrEqual(2);
    for (const c of rest) {
      expect(c.body.channelData).toBeUndefined();
      expect(String(c.body.text).length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
      expect(c.body.entities).toEqual([expect.objectContaining({ additionalType: ['AIGeneratedContent'] })]);
    }
    expect(words([shown, ...rest.map((c) => String(c.body.text))].join(' '))).toBe(words(LONG));
  });

  it('ends the stream before Teams’ 2-minute limit and sends the rest as a normal message', async () => {
    let ended: string | null = null;
    const stream = new PersonalStream({ connector, target, clock, onEnded: (why) => (ended = why) });
    stream.text('Part one.');
    await fake.waitFor((c) => c.body.text === 'Part one.');
    await clock.advance(115_000);
    const closing = await fake.waitFor((c) => (c.body.channelData as { streamType?: string } | undefined)?.streamType === 'final');
    expect(closing.body.text).toBe('Part one.');
    expect(ended).toBe('time');
    stream.text('Part one. Part two.');
    await stream.finish({ text: 'Part one. Part two.' });
    const last = fake.calls.at(-1)!;
    expect(last.body.text).toBe('Part two.');
    expect(last.body.channelData).toBeUndefined();
    expect(stream.state).toBe('ended');
  });

  it('treats a 403 on an update as the user’s Stop', async () => {
    const { stream, seen } = await refusedUpdate('Content stream was cancelled by user.');
    expect(seen).toEqual({ stopped: true, ended: null });
    expect(stream.state).toBe('stopped');
    expect(await stream.finish({ text: 'Hello there, friend' })).toBeNull();
  });

  it('any other 403 (time limit, size, not allowed) is not a Stop: the stream ends and the rest goes as a normal message', async () => {
    const { stream, seen } = await refusedUpdate('Content stream finished due to exceeded streaming time.');
    expect(seen).toEqual({ stopped: false, ended: 'refused' });
    expect(stream.state).toBe('ended');
    await stream.finish({ text: 'Hello there, friend.' });
    expect(fake.calls.at(-1)!.body).toMatchObject({ type: 'message', text: 'there, friend.' });
    expect(fake.calls.at(-1)!.body.channelData).toBeUndefined();
  });

  it('a final message Teams refuses (not a Stop) is sent again as a normal message with what was not shown', async () => {
    let stopped = false;
    const stream = new PersonalStream({ connector, target, clock, onStopped: () => (stopped = true) });
    stream.text('Part one.');
    await fake.waitFor((c) => c.body.text === 'Part one.');
    fake.inject({ status: 403, body: { error: { code: 'ContentStreamNotAllowed', message: 'Content stream finished due to exceeded streaming time.' } }, times: 1 });
    const finished = stream.finish({ text: 'Part one. Part two.' });
    await clock.advance(1_000);
    expect(await finished).toMatch(/^act-/);
    expect(stopped).toBe(false);
    expect(fake.calls.map((c) => [c.status, (c.body.channelData as { streamType?: string } | undefined)?.streamType ?? null, c.body.text])).toEqual([
      [200, 'streaming', 'Part one.'],
      [403, 'final', 'Part one. Part two.'],
      [200, null, 'Part two.'],
    ]);
  });
});
