/**
 * The model client's own SSE reading, against streams the fake server cannot produce: bytes split
 * anywhere, CRLF, comments, an error object inside a 200 stream, pauses and silence. A scripted
 * `fetch` stands in for the network; the openai SDK still builds the request and checks the status.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ModelCallError } from '../../src/core/errors.js';
import { createModelClient, isAbortError, type ModelClientOptions } from '../../src/core/model/openai-client.js';
import type { ChatRequest } from '../../src/core/model/types.js';
import { startFakeOpenAI } from '../support/fake-openai.js';
import { failureOf } from '../support/replies.js';

/** A piece of the body (text or raw bytes), a pause in ms, or `hang`: silence until cancelled. */
type Step = string | Uint8Array | number | 'hang';

const enc = new TextEncoder();

/** A fetch answering the n-th request with the n-th script, as a 200 event stream. */
function scriptedFetch(...bodies: Step[][]) {
  const state = { calls: 0, cancelled: 0 };
  const fetchImpl = async (_url: unknown, init?: RequestInit): Promise<Response> => {
    const steps = bodies[state.calls++] ?? [];
    let stop: (() => void) | undefined;
    let live = true;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        init?.signal?.addEventListener('abort', () => {
          if (live) c.error(new DOMException('aborted', 'AbortError'));
          live = false;
          stop?.();
        });
        void (async () => {
          for (const step of steps) {
            if (!live) return;
            if (typeof step === 'number' || step === 'hang') {
              await new Promise<void>((resolve) => {
                const timer = step === 'hang' ? undefined : setTimeout(resolve, step);
                stop = () => (clearTimeout(timer), resolve());
              });
            } else c.enqueue(typeof step === 'string' ? enc.encode(step) : step);
          }
          if (live) c.close();
          live = false;
        })();
      },
      cancel() {
        state.cancelled++;
        live = false;
        stop?.();
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  };
  return { fetch: fetchImpl as typeof fetch, state };
}

const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 0, model: 'gpt-4o-mini', choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
const usage = (p: number, c: number) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 0, model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: p, completion_tokens: c } })}\n\n`;
const DONE = 'data: [DONE]\n\n';
const reply = (...pieces: string[]): string[] => [chunk({ role: 'assistant', content: '' }), ...pieces.map((t) => chunk({ content: t })), chunk({}, 'stop'), usage(7, 3), DONE];
const inStreamError = 'data: {"error":{"message":"The server had an error while processing your request.","type":"server_error"}}\n\n';

function clientWith(f: typeof fetch, extra: Partial<ModelClientOptions> = {}) {
  return createModelClient({
    providers: { default: { type: 'openai', baseURL: 'http://model.test/v1', apiKey: 'sk-test-0123456789' } },
    env: {},
    retries: 2,
    timeoutMs: 5_000,
    retryBaseDelayMs: 5,
    fetch: f,
    ...extra,
  });
}

const ask: ChatRequest = { provider: 'default', model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };

describe('reading the event stream', () => {
  it('reads a stream split at every byte, with CRLF line ends, comments and multibyte text', async () => {
    const text = [': keep-alive\n\n', ...reply('héllo ', '🌍 ', 'wörld'), 'data: {"ignored": "after [DONE]"}\n\n'].join('').replace(/\n/g, '\r\n');
    const bytes = enc.encode(text);
    const { fetch } = scriptedFetch([...bytes].map((b) => Uint8Array.of(b)));
    const deltas: string[] = [];
    const result = await clientWith(fetch).chat(ask, { onDelta: (t) => deltas.push(t) });

    expect(deltas).toEqual(['héllo ', '🌍 ', 'wörld']);
    expect(result).toMatchObject({ content: 'héllo 🌍 wörld', finishReason: 'stop', usage: { promptTokens: 7, completionTokens: 3 }, toolCalls: [] });
  });

  it('retries an error object sent inside the stream when no text had reached the caller', async () => {
    const { fetch, state } = scriptedFetch([chunk({ role: 'assistant', content: '' }), inStreamError], reply('fine'));
    const result = await clientWith(fetch).chat(ask);
    expect(result.content).toBe('fine');
    expect(state.calls).toBe(2);
  });

  it('fails with the server message of an in-stream error, without retrying once text was sent', async () => {
    const { fetch, state } = scriptedFetch([chunk({ content: 'half an ans' }), inStreamError], reply('unused'));
    const deltas: string[] = [];
    const err = await failureOf(clientWith(fetch).chat(ask, { onDelta: (t) => deltas.push(t) }));

    expect(err).toBeInstanceOf(ModelCallError);
    expect((err as Error).message).toBe(
      'Model API stream from http://model.test/v1 failed after 1 attempt: The server had an error while processing your request.',
    );
    expect(deltas).toEqual(['half an ans']);
    expect(state.calls).toBe(1);
  });

  it('keeps a stream whose chunks come more often than the timeout, however long it lasts', async () => {
    const steps = reply('a ', 'b ', 'c ', 'd ', 'e').flatMap((piece) => [60, piece]);
    const { fetch, state } = scriptedFetch(steps);
    const result = await clientWith(fetch, { timeoutMs: 150 }).chat(ask);
    expect(result.content).toBe('a b c d e');
    expect(state.calls).toBe(1);
  });

  it('stops a stream that goes silent, retries it when no text was sent, and reports the timeout', async () => {
    const silent = [chunk({ role: 'assistant', content: '' }), 'hang'] as Step[];
    const retried = scriptedFetch(silent, reply('second try'));
    const started = performance.now();
    expect((await clientWith(retried.fetch, { timeoutMs: 100 }).chat(ask)).content).toBe('second try');
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    expect(retried.state).toEqual({ calls: 2, cancelled: 1 });

    const { fetch } = scriptedFetch([chunk({ content: 'some text' }), 'hang']);
    const err = await failureOf(clientWith(fetch, { timeoutMs: 100 }).chat(ask));
    expect(err).toBeInstanceOf(ModelCallError);
    expect((err as Error).message).toContain('did not answer within 100 ms (after 1 attempt)');
  });

  it('throws the abort reason, not a ModelCallError, when aborted while the stream is silent', async () => {
    const { fetch, state } = scriptedFetch([chunk({ content: 'x' }), 'hang']);
    const controller = new AbortController();
    const reason = new DOMException('stop now', 'AbortError');
    // Aborted once the text has come and the stream went silent (not after a fixed delay).
    const err = await failureOf(clientWith(fetch).chat(ask, { signal: controller.signal, onDelta: () => setImmediate(() => controller.abort(reason)) }));
    expect(err).toBe(reason);
    expect(isAbortError(err)).toBe(true);
    expect(state.calls).toBe(1);
  });
});

describe('the fake server', () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  afterEach(() => {
    process.off('warning', onWarning);
  });

  it('holds more than ten open requests without a MaxListenersExceededWarning', async () => {
    process.on('warning', onWarning);
    const fake = await startFakeOpenAI();
    try {
      fake.failNext(12, 'hang');
      const client = createModelClient({ providers: { default: { type: 'openai', baseURL: fake.url } }, env: {}, retries: 0, timeoutMs: 5_000 });
      const controllers = Array.from({ length: 12 }, () => new AbortController());
      const calls = controllers.map((c) => client.chat(ask, { signal: c.signal }).catch((e: unknown) => e));
      while (fake.requests.length < 12) await new Promise((r) => setTimeout(r, 5));
      for (const c of controllers) c.abort();
      expect((await Promise.all(calls)).every(isAbortError)).toBe(true);
    } finally {
      await fake.close();
    }
    await new Promise((r) => setImmediate(r));
    expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
  });
});
