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

  it('reads what Azure OpenAI, Ollama and vLLM send besides OpenAI\'s chunks', async () => {
    const raw = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
    const filter = { hate: { filtered: false, severity: 'safe' } };
    // Azure: prompt filter results in a chunk without choices; a choice without delta (async filter).
    const azure = [
      raw({ id: '', object: '', created: 0, model: '', choices: [], prompt_filter_results: [{ prompt_index: 0, content_filter_results: filter }] }),
      chunk({ role: 'assistant', content: 'azure ' }, null, { system_fingerprint: 'fp' }),
      raw({ id: 'c1', object: 'chat.completion.chunk', created: 0, model: 'gpt-4o', choices: [{ index: 0, finish_reason: null, content_filter_results: filter }] }),
      chunk({ content: 'says hi' }),
      chunk({}, 'stop'),
      usage(9, 4),
      DONE,
    ];
    // Ollama (older) and SGLang: finish_reason "" until the end; nulls instead of missing fields.
    const ollama = [
      raw({ id: 'c2', object: 'chat.completion.chunk', created: 0, model: 'llama3.1', choices: [{ index: 0, delta: { role: 'assistant', content: 'llama', tool_calls: null }, finish_reason: '' }], usage: null }),
      raw({ id: 'c2', object: 'chat.completion.chunk', created: 0, model: 'llama3.1', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: 'stop' }] }),
      DONE,
    ];
    // vLLM with continuous usage stats: usage in every chunk, then the finish, no [DONE] needed.
    const vllm = [chunk({ content: 'v' }, null, { usage: { prompt_tokens: 3, completion_tokens: 1 } }), chunk({ content: 'llm' }, 'stop', { usage: { prompt_tokens: 3, completion_tokens: 2 } })];
    const { fetch, state } = scriptedFetch(azure, ollama, vllm);
    const client = clientWith(fetch);

    expect(await client.chat(ask)).toMatchObject({ content: 'azure says hi', finishReason: 'stop', usage: { promptTokens: 9, completionTokens: 4 } });
    expect(await client.chat(ask)).toMatchObject({ content: 'llama', finishReason: 'stop', model: 'llama3.1' });
    expect(await client.chat(ask)).toMatchObject({ content: 'vllm', finishReason: 'stop', usage: { promptTokens: 3, completionTokens: 2 } });
    expect(state.calls).toBe(3);
  });

  it('keeps a finished answer whose stream goes silent before [DONE]', async () => {
    const { fetch, state } = scriptedFetch([chunk({ content: 'all here' }), chunk({}, 'stop'), 'hang']);
    expect(await clientWith(fetch, { timeoutMs: 100 }).chat(ask)).toMatchObject({ content: 'all here', finishReason: 'stop' });
    expect(state.calls).toBe(1);
  });

  it('fails a chunk of the wrong shape, naming the field, however plain the rest of it looks', async () => {
    const odd = [chunk({ content: 'fine ' }), chunk({ content: 42 }), chunk({}, 'stop'), DONE];
    const { fetch } = scriptedFetch(odd, odd, odd);
    const err = await failureOf(clientWith(fetch).chat(ask));
    expect((err as Error).message).toBe(
      'Model API at http://model.test/v1 sent a chunk that is not a chat completion chunk (choices.0.delta.content: Invalid input: expected string, received number) (after 3 attempts).',
    );
  });

  it('treats a stream whose finish_reason is "" to the end as cut', async () => {
    const empty = [chunk({ content: 'never ' }, ''), chunk({ content: 'finished' }, '')];
    const { fetch } = scriptedFetch(empty, empty, empty);
    const err = await failureOf(clientWith(fetch).chat(ask));
    expect((err as Error).message).toBe(
      'Model API at http://model.test/v1 ended the stream before the answer was complete (no finish_reason, no [DONE]) (after 3 attempts).',
    );
  });

  it('retries an error object sent inside the stream when no text had reached the caller', async () => {
    const { fetch, state } = scriptedFetch([chunk({ role: 'assistant', content: '' }), inStreamError], reply('fine'));
    const result = await clientWith(fetch).chat(ask);
    expect(result.content).toBe('fine');
    expect(state.calls).toBe(2);
  });

  it('retries an in-stream error after text was sent, telling the caller to drop that text first', async () => {
    const { fetch, state } = scriptedFetch([chunk({ content: 'half an ans' }), inStreamError], reply('whole ', 'answer'));
    const seen: string[] = [];
    const result = await clientWith(fetch).chat(ask, { onDelta: (t) => seen.push(t), onReset: () => seen.push('<reset>') });

    expect(result.content).toBe('whole answer');
    expect(seen).toEqual(['half an ans', '<reset>', 'whole ', 'answer']);
    expect(state.calls).toBe(2);
  });

  it('fails with the server message of an in-stream error that persists', async () => {
    const broken = [chunk({ content: 'half an ans' }), inStreamError];
    const { fetch, state } = scriptedFetch(broken, broken, broken);
    const resets: number[] = [];
    const err = await failureOf(clientWith(fetch).chat(ask, { onReset: () => resets.push(state.calls) }));

    expect(err).toBeInstanceOf(ModelCallError);
    expect((err as Error).message).toBe(
      'Model API stream from http://model.test/v1 failed after 3 attempts: The server had an error while processing your request.',
    );
    // Reset before the second and the third attempt; not after the last one: nothing follows it.
    expect(resets).toEqual([1, 2]);
  });

  it('keeps a stream whose chunks come more often than the timeout, however long it lasts', async () => {
    const steps = reply('a ', 'b ', 'c ', 'd ', 'e').flatMap((piece) => [60, piece]);
    const { fetch, state } = scriptedFetch(steps);
    const result = await clientWith(fetch, { timeoutMs: 150 }).chat(ask);
    expect(result.content).toBe('a b c d e');
    expect(state.calls).toBe(1);
  });

  it('stops a stream that goes silent, retries it, and reports the timeout when it keeps happening', async () => {
    const silent = [chunk({ role: 'assistant', content: '' }), 'hang'] as Step[];
    const retried = scriptedFetch(silent, reply('second try'));
    const started = performance.now();
    expect((await clientWith(retried.fetch, { timeoutMs: 100 }).chat(ask)).content).toBe('second try');
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    expect(retried.state).toEqual({ calls: 2, cancelled: 1 });

    const talking = [chunk({ content: 'some text' }), 'hang'] as Step[];
    const { fetch } = scriptedFetch(talking, talking, talking);
    const err = await failureOf(clientWith(fetch, { timeoutMs: 100 }).chat(ask));
    expect(err).toBeInstanceOf(ModelCallError);
    expect((err as Error).message).toContain('did not answer within 100 ms (after 3 attempts)');
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
