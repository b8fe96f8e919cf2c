/**
 * A broken 200 answer is a failed model call, never an answer: the real openai client against the
 * fake server's injected body faults (a stream cut before the model finished, HTML, JSON of another
 * kind, the wrong content type, an empty body, a malformed chunk), and the finish reasons that are
 * not a plain `stop`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModelCallError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import type { ModelClientOptions } from '../../src/core/model/openai-client.js';
import type { ChatRequest } from '../../src/core/model/types.js';
import { scriptByAgent, startFakeOpenAI, type FakeFault, type FakeOpenAI } from '../support/fake-openai.js';
import { CUT_TEXT } from '../support/fake-openai-faults.js';
import { API_KEY, clientFor as testClient } from '../support/model-client.js';
import { failureOf } from '../support/replies.js';
import { alice, startHarness, type Harness } from '../support/switchboard.js';


let fake: FakeOpenAI;
beforeEach(async () => {
  fake = await startFakeOpenAI();
});
afterEach(async () => {
  await fake.close();
});

/** Two retries: every fault here fails its call "after 3 attempts". */
const clientFor = (f: FakeOpenAI, extra: Partial<ModelClientOptions> = {}) => testClient(f, { retries: 2, ...extra });

const ask = (text = 'hi'): ChatRequest => ({
  provider: 'default',
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You are the agent "proxy".' },
    { role: 'user', content: text },
  ],
});

/** Every broken answer, and the reason the call fails with once it keeps coming (after "Model API at <url> "). */
const BROKEN: [FakeFault, string][] = [
  ['cut_mid_stream', 'ended the stream before the answer was complete (no finish_reason, no [DONE]) (after 3 attempts).'],
  [
    'cut_mid_tool_args',
    'ended the stream before the answer was complete (no finish_reason, no [DONE]; the arguments of its send_message call were cut off) (after 3 attempts).',
  ],
  [
    'html_200',
    'answered 200 with an HTML page ("Sign in - Corporate Web Gateway") instead of an event stream (after 3 attempts). Is the base URL right (for OpenAI-compatible servers it usually ends in /v1)?',
  ],
  ['json_200', 'answered 200 with JSON that is not a chat completion ({"status":"ok","message":"Welcome to the API gateway"}) (after 3 attempts).'],
  ['text_200', 'answered 200 with text/plain ("OK") instead of an event stream (after 3 attempts).'],
  ['empty_200', 'answered 200 with an empty body (after 3 attempts).'],
  ['bad_chunk', 'sent a chunk that is not a chat completion chunk (choices: Invalid input: expected array, received string) (after 3 attempts).'],
];

describe('a broken answer', () => {
  it.each(BROKEN)('%s is retried, then fails the call with a one-line reason and no key', async (fault, reason) => {
    fake.failNext(3, fault);
    const err = await failureOf(clientFor(fake).chat(ask()));

    expect(err).toBeInstanceOf(ModelCallError);
    const message = (err as Error).message;
    expect(message.startsWith(`Model API at ${fake.url} ${reason}`)).toBe(true);
    expect(message).not.toContain('\n');
    expect(message).not.toContain(API_KEY);
    expect(fake.requests.map((r) => r.fault)).toEqual([fault, fault, fault]);
  });

  it.each(BROKEN.map(([fault]) => fault))('%s once, then a good answer: only the good answer is returned', async (fault) => {
    fake.failNext(1, fault);
    fake.enqueue({ content: 'the whole answer' });
    const seen: string[] = [];
    const result = await clientFor(fake).chat(ask(), { onDelta: (t) => seen.push(t), onReset: () => seen.push('<reset>') });

    expect(result).toMatchObject({ content: 'the whole answer', finishReason: 'stop', toolCalls: [] });
    expect(fake.requests).toHaveLength(2);
    // Text from the broken attempt reached the listener; it is told to drop it before the retry.
    const before = fault === 'cut_mid_stream' ? [...CUT_TEXT.split(/(?<= )/), '<reset>'] : [];
    expect(seen).toEqual([...before, 'the ', 'whole ', 'answer']);
  });

  it('says the connection was lost when it drops mid-stream on every attempt', async () => {
    fake.failNext(3, 'reset_mid_stream');
    const err = await failureOf(clientFor(fake).chat(ask()));
    expect((err as Error).message).toMatch(
      new RegExp(`^Model API at ${fake.url} ended the stream before the answer was complete \\(the connection was lost: [^)]+\\) \\(after 3 attempts\\)\\.$`),
    );
  });

  it('names the server, not the key, even when the page quotes the key back', async () => {
    const echoing = await startFakeOpenAI();
    try {
      echoing.failNext(1, 'text_200');
      // A fetch that rewrites the plain-text body into one that repeats the Authorization header.
      const leaky: typeof fetch = async (url, init) => {
        const res = await fetch(url, init);
        if (res.headers.get('content-type') !== 'text/plain') return res;
        const auth = new Headers(init?.headers).get('authorization') ?? '';
        return new Response(`denied for ${auth}`, { status: 200, headers: { 'content-type': 'text/plain' } });
      };
      const err = await failureOf(clientFor(echoing, { retries: 0, fetch: leaky }).chat(ask()));
      expect((err as Error).message).toContain('text/plain ("denied for Bearer [redacted]")');
      expect((err as Error).message).not.toContain(API_KEY);
    } finally {
      await echoing.close();
    }
  });
});

describe('how a stream may end', () => {
  it('is whole with a finish_reason and no [DONE] (some compatible servers leave it out)', async () => {
    fake.enqueue({ content: 'done without done', done: false });
    const result = await clientFor(fake).chat(ask());
    expect(result).toMatchObject({ content: 'done without done', finishReason: 'stop' });
    expect(fake.requests).toHaveLength(1);
  });

  it('is whole with [DONE] and no finish_reason (some gateways never send one)', async () => {
    fake.enqueue({ content: 'no reason given', finishReason: null });
    const result = await clientFor(fake).chat(ask());
    expect(result).toMatchObject({ content: 'no reason given', finishReason: null });
    expect(fake.requests).toHaveLength(1);
  });

  it('is cut when [DONE] comes without a finish_reason in the middle of tool-call arguments', async () => {
    fake.enqueue(...Array.from({ length: 3 }, () => ({ toolCalls: [{ name: 'send_message', arguments: '{"recipient": "vis' }], finishReason: null })));
    const err = await failureOf(clientFor(fake).chat(ask()));
    expect((err as Error).message).toBe(
      `Model API at ${fake.url} ended the stream in the middle of the arguments of a send_message call (no finish_reason) (after 3 attempts).`,
    );
  });

  it('keeps an answer cut at the token limit (finish_reason: length), with a warning', async () => {
    const warnings: string[] = [];
    const logger: Logger = { debug: () => {}, info: () => {}, warn: (msg) => warnings.push(msg), error: () => {} };
    fake.enqueue({ content: 'a long answer that stops', finishReason: 'length' });
    const result = await clientFor(fake, { logger }).chat(ask());
    expect(result).toMatchObject({ content: 'a long answer that stops', finishReason: 'length' });
    expect(warnings).toEqual(["model answer stopped at the model's output token limit (finish_reason: length); it may be cut short"]);
  });

  it('fails, without retrying, a tool call the token limit cut in its arguments', async () => {
    fake.enqueue({ toolCalls: [{ name: 'send_message', arguments: '{"recipient": "vision_agent", "message": "desc' }], finishReason: 'length' });
    const err = await failureOf(clientFor(fake).chat(ask()));
    expect((err as Error).message).toBe(
      `Model API at ${fake.url} stopped at the model's output token limit (finish_reason: length) in the middle of the arguments of a send_message call. Give the model a larger output limit, or ask for less at once.`,
    );
    expect(fake.requests).toHaveLength(1);
  });

  it('fails, without retrying, an answer the content filter withheld', async () => {
    fake.enqueue({ content: 'I can', finishReason: 'content_filter' });
    const err = await failureOf(clientFor(fake).chat(ask()));
    expect((err as Error).message).toBe(
      `Model API at ${fake.url} withheld the answer: its content filter stopped it (finish_reason: content_filter). Rephrase the request, or check the content filter settings of the deployment.`,
    );
    expect(fake.requests).toHaveLength(1);
  });

  it('retries an answer the server stopped with finish_reason: error', async () => {
    fake.enqueue({ content: 'par', finishReason: 'error' }, { content: 'fine' });
    expect((await clientFor(fake).chat(ask())).content).toBe('fine');
    expect(fake.requests).toHaveLength(2);
  });

  it('takes a whole JSON completion from a server that ignores stream: true', async () => {
    const completion = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 0,
      model: 'llama3.1',
      choices: [{ index: 0, message: { role: 'assistant', content: 'not streamed' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
    };
    const jsonFetch: typeof fetch = async () => new Response(JSON.stringify(completion), { status: 200, headers: { 'content-type': 'application/json' } });
    const deltas: string[] = [];
    const result = await clientFor(fake, { fetch: jsonFetch }).chat(ask(), { onDelta: (t) => deltas.push(t) });
    expect(result).toMatchObject({ content: 'not streamed', finishReason: 'stop', model: 'llama3.1', usage: { promptTokens: 5, completionTokens: 2 } });
    expect(deltas).toEqual(['not streamed']);
  });
});

describe('a run on a broken answer', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const assistantTexts = async (sb: Harness['sb'], conversationId: string) =>
    (await sb.transcript(conversationId)).flatMap((t) => t.messages).filter((m) => m.role === 'assistant').map((m) => m.content);

  it('fails with the one-line reason when the stream keeps being cut, and stores no partial answer', async () => {
    h = await startHarness(); // limits.modelRetries: 2
    h.fake.failNext(3, 'cut_mid_stream');
    const conv = await h.sb.conversation('test:cut', alice);
    const run = await h.sb.wait((await h.sb.send(conv.id, { text: 'hi', from: alice })).id);

    expect(run.status).toBe('failed');
    expect(run.error).toBe(
      `Model API at ${h.fake.url} ended the stream before the answer was complete (no finish_reason, no [DONE]) (after 3 attempts).`,
    );
    expect(run.reply ?? null).toBeNull();
    expect(await assistantTexts(h.sb, conv.id)).toEqual([]);
  });

  it('completes with the good answer after one cut stream: one assistant message, and listeners told to reset', async () => {
    h = await startHarness();
    h.fake.failNext(1, 'cut_mid_stream');
    h.fake.setHandler(scriptByAgent({ proxy: [{ content: 'the good answer' }] }));
    const conv = await h.sb.conversation('test:cut-once', alice);
    const seen: string[] = [];
    h.sb.on(conv.id, (e) => {
      if (e.type === 'text.delta') seen.push(e.delta);
      if (e.type === 'text.reset') seen.push('<reset>');
    });
    const run = await h.sb.wait((await h.sb.send(conv.id, { text: 'hi', from: alice })).id);

    expect(run).toMatchObject({ status: 'completed', reply: 'the good answer' });
    expect(await assistantTexts(h.sb, conv.id)).toEqual(['the good answer']);
    expect(seen).toEqual([...CUT_TEXT.split(/(?<= )/), '<reset>', 'the ', 'good ', 'answer']);
  });

  it('fails on an HTML page in place of an answer, and the thread takes the next message', async () => {
    h = await startHarness();
    h.fake.failNext(3, 'html_200');
    const conv = await h.sb.conversation('test:html', alice);
    const run = await h.sb.wait((await h.sb.send(conv.id, { text: 'hi', from: alice })).id);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/^Model API at \S+ answered 200 with an HTML page \("Sign in - Corporate Web Gateway"\) instead of an event stream \(after 3 attempts\)\. /);

    h.fake.setHandler(scriptByAgent({ proxy: [{ content: 'back' }] }));
    const next = await h.sb.wait((await h.sb.send(conv.id, { text: 'hello?', from: alice })).id);
    expect(next.reply).toBe('back');
    expect(await assistantTexts(h.sb, conv.id)).toEqual(['back']);
  });
});
