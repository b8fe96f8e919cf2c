import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModelCallError, ModelNotConfiguredError } from '../../src/core/errors.js';
import {
  checkProvider,
  createModelClient,
  describeModelSetup,
  isAbortError,
} from '../../src/core/model/openai-client.js';
import type { ChatRequest } from '../../src/core/model/types.js';
import { scriptByAgent, startFakeOpenAI, TINY_PNG_B64, type FakeOpenAI } from '../support/fake-openai.js';
import { API_KEY, clientFor } from '../support/model-client.js';
import { failureOf } from '../support/replies.js';

const SYSTEM = 'You are the agent "proxy". Be brief.';

let fake: FakeOpenAI;
beforeEach(async () => {
  fake = await startFakeOpenAI();
});
afterEach(async () => {
  await fake.close();
});


function ask(text: string, extra: Partial<ChatRequest> = {}): ChatRequest {
  return {
    provider: 'default',
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: text },
    ],
    ...extra,
  };
}

describe('chat streaming', () => {
  it('delivers text deltas in order and returns their concatenation as content', async () => {
    fake.enqueue({ content: 'Hello there, how can I help?', chunkSize: 3 });
    const deltas: string[] = [];
    const result = await clientFor(fake).chat(ask('hi'), { onDelta: (t) => deltas.push(t) });

    expect(deltas.length).toBeGreaterThan(5);
    expect(deltas.join('')).toBe('Hello there, how can I help?');
    expect(result.content).toBe('Hello there, how can I help?');
    expect(result.toolCalls).toEqual([]);
    expect(result.finishReason).toBe('stop');
    expect(result.model).toBe('gpt-4o-mini');
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('always asks for a stream with usage included', async () => {
    await clientFor(fake).chat(ask('hi'));
    expect(fake.requests[0]!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('assembles parallel tool calls by index with their ids, names and arguments', async () => {
    fake.enqueue({
      toolCalls: [
        { id: 'call_a', name: 'send_message', arguments: { recipient: 'vision_agent', message: 'describe the photo in detail' } },
        { id: 'call_b', name: 'send_message', arguments: { recipient: 'image_agent', message: 'draw a lighthouse at dusk' } },
      ],
      chunkSize: 5,
    });
    const result = await clientFor(fake).chat(ask('do both'));

    expect(result.content).toBeNull();
    expect(result.finishReason).toBe('tool_calls');
    expect(result.toolCalls).toEqual([
      { id: 'call_a', name: 'send_message', arguments: JSON.stringify({ recipient: 'vision_agent', message: 'describe the photo in detail' }) },
      { id: 'call_b', name: 'send_message', arguments: JSON.stringify({ recipient: 'image_agent', message: 'draw a lighthouse at dusk' }) },
    ]);
  });

  it('returns tool arguments that are not valid JSON as the raw text, for the run loop to judge', async () => {
    fake.failNext(1, 'bad_json_args');
    const result = await clientFor(fake).chat(ask('go'));
    expect(result.toolCalls).toHaveLength(1);
    expect(result.toolCalls[0]!.name).toBe('send_message');
    expect(() => JSON.parse(result.toolCalls[0]!.arguments)).toThrow();
  });

  it('reports the usage the server sent', async () => {
    fake.enqueue({ content: 'ok', usage: { prompt_tokens: 123, completion_tokens: 45 } });
    const result = await clientFor(fake).chat(ask('count'));
    expect(result.usage).toEqual({ promptTokens: 123, completionTokens: 45 });
  });

  it('sees prompt tokens grow with the conversation (the fake estimates them from characters)', async () => {
    const client = clientFor(fake);
    const short = await client.chat(ask('hi'));
    const long = await client.chat(ask('hi '.repeat(400)));
    expect(long.usage.promptTokens).toBeGreaterThan(short.usage.promptTokens + 200);
    expect(short.usage.completionTokens).toBeGreaterThan(0);
  });
});

describe('request mapping', () => {
  it('maps images, assistant tool calls and tool results to the OpenAI message format', async () => {
    await clientFor(fake).chat({
      provider: 'default',
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: 'what is this?', images: ['data:image/png;base64,AAAA'], name: 'Ada Lovelace' },
        { role: 'assistant', content: null, toolCalls: [{ id: 'call_1', name: 'send_message', arguments: '{"recipient":"vision_agent"}' }] },
        { role: 'tool', toolCallId: 'call_1', content: 'a cat' },
      ],
    });
    const body = fake.requests[0]!.body;
    expect(body.messages[1]).toEqual({
      role: 'user',
      name: 'Ada_Lovelace',
      content: [
        { type: 'text', text: 'what is this?' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
      ],
    });
    expect(body.messages[2]).toEqual({
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'send_message', arguments: '{"recipient":"vision_agent"}' } }],
    });
    expect(body.messages[3]).toEqual({ role: 'tool', tool_call_id: 'call_1', content: 'a cat' });
  });

  it('sends tools as functions and leaves the field out when there are none', async () => {
    const client = clientFor(fake);
    const parameters = { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] };
    await client.chat(ask('a', { tools: [{ name: 'search', description: 'Search the web', parameters }] }));
    await client.chat(ask('b', { tools: [] }));

    expect(fake.requests[0]!.body.tools).toEqual([{ type: 'function', function: { name: 'search', description: 'Search the web', parameters } }]);
    expect(fake.requests[1]!.body).not.toHaveProperty('tools');
  });

  it('asks for structured output with a JSON schema when given a response schema', async () => {
    const schema = { type: 'object', properties: { steps: { type: 'array' } } };
    await clientFor(fake).chat(ask('plan', { responseSchema: { name: 'plan', schema }, temperature: 0 }));
    expect(fake.requests[0]!.body).toMatchObject({
      temperature: 0,
      response_format: { type: 'json_schema', json_schema: { name: 'plan', schema, strict: false } },
    });
  });
});

describe('retries', () => {
  it('retries a 429 and then succeeds', async () => {
    fake.failNext(1, 429);
    fake.enqueue({ content: 'after the limit' });
    const result = await clientFor(fake).chat(ask('hi'));
    expect(result.content).toBe('after the limit');
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  it('retries two 500s and then succeeds', async () => {
    fake.failNext(2, 500);
    const result = await clientFor(fake).chat(ask('hi'));
    expect(result.content).toBe('echo: hi');
    expect(fake.requests).toHaveLength(3);
  });

  it('retries a connection reset, before and after the stream has started', async () => {
    fake.failNext(1, 'reset');
    fake.failNext(1, 'reset_mid_stream');
    const deltas: string[] = [];
    const result = await clientFor(fake).chat(ask('hi'), { onDelta: (t) => deltas.push(t) });
    expect(result.content).toBe('echo: hi');
    expect(deltas.join('')).toBe('echo: hi');
    expect(fake.requests).toHaveLength(3);
  });

  it('gives up on a persistent 500 with a ModelCallError that names the server and hides the key', async () => {
    fake.failNext(10, 500);
    const err = await failureOf(clientFor(fake).chat(ask('hi')));

    expect(err).toBeInstanceOf(ModelCallError);
    const e = err as ModelCallError;
    expect(e.status).toBe(500);
    expect(e.message).toContain(`Model API error 500 from ${fake.url} after 4 attempts`);
    expect(e.message).toContain('injected failure 500');
    expect(e.message).not.toContain(API_KEY);
    expect(fake.requests).toHaveLength(4);
  });

  it('does not retry a rejected API key and says which setting to check', async () => {
    const guarded = await startFakeOpenAI({ apiKey: 'sk-the-right-key-000000' });
    try {
      const client = createModelClient({
        providers: { default: { type: 'openai', baseURL: guarded.url } },
        env: { OPENAI_API_KEY: API_KEY },
        retries: 3,
        timeoutMs: 5_000,
        retryBaseDelayMs: 5,
      });
      const err = await failureOf(client.chat(ask('hi')));

      expect(err).toBeInstanceOf(ModelCallError);
      expect((err as ModelCallError).status).toBe(401);
      expect((err as Error).message).toMatch(/^401 Unauthorized from .*: check OPENAI_API_KEY/);
      expect((err as Error).message).not.toContain(API_KEY);
      expect(guarded.requests).toHaveLength(1);
    } finally {
      await guarded.close();
    }
  });

  it('fails with a timeout message when the server never answers', async () => {
    fake.failNext(2, 'hang');
    const err = await failureOf(clientFor(fake, { timeoutMs: 100, retries: 1 }).chat(ask('hi')));
    expect(err).toBeInstanceOf(ModelCallError);
    expect((err as Error).message).toContain('did not answer within 100 ms (after 2 attempts)');
  });

  it('retries a connection closed before any answer at once, once; then with the normal backoff', async () => {
    const logs: { level: string; msg: string; delayMs?: unknown }[] = [];
    const log = (level: string) => (msg: string, fields?: Record<string, unknown>) => logs.push({ level, msg, delayMs: fields?.['delayMs'] });
    const logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
    const client = clientFor(fake, { retryBaseDelayMs: 400, logger });

    fake.failNext(1, 'reset');
    expect((await client.chat(ask('once'))).content).toBe('echo: once');
    // At once: no backoff was logged (a timing bound here failed on busy machines).
    expect(logs.filter((l) => l.level === 'warn')).toEqual([]);
    expect(logs.filter((l) => l.msg.includes('retrying at once'))).toHaveLength(1);

    logs.length = 0;
    fake.failNext(2, 'reset');
    expect((await client.chat(ask('twice'))).content).toBe('echo: twice');
    const waits = logs.filter((l) => l.msg === 'model call failed; retrying').map((l) => l.delayMs as number);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(300); // the first backoff: 400 ms less up to 25 % jitter
    expect(fake.requests).toHaveLength(2 + 3);
  });

  it('stops at once, without retrying, when a script runs out', async () => {
    fake.setHandler(scriptByAgent({ proxy: [{ content: 'one' }] }));
    const client = clientFor(fake);
    await client.chat(ask('first'));
    const err = await failureOf(client.chat(ask('second')));

    expect(err).toBeInstanceOf(ModelCallError);
    expect((err as Error).message).toContain('script for agent "proxy" ran out: request #2');
    expect(fake.requests).toHaveLength(2);
    expect(fake.errors).toHaveLength(1);
  });
});

describe('cancellation', () => {
  it('stops a hanging request when the signal is aborted, with an abort error rather than a ModelCallError', async () => {
    fake.failNext(1, 'hang');
    const controller = new AbortController();
    const call = failureOf(clientFor(fake).chat(ask('hi'), { signal: controller.signal }));
    // Aborted once the request hangs at the server (not after a fixed delay: a busy machine may not have sent it yet).
    while (fake.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    const err = await call;

    expect(err).not.toBeInstanceOf(ModelCallError);
    expect(isAbortError(err)).toBe(true);
    expect(fake.requests).toHaveLength(1);
  });

  it('stops a stream mid-way when the signal is aborted', async () => {
    fake.enqueue({ content: 'a b c d e f g h', chunkSize: 1 });
    const controller = new AbortController();
    const err = await failureOf(
      clientFor(fake).chat(ask('hi'), { signal: controller.signal, onDelta: () => controller.abort() }),
    );
    expect(isAbortError(err)).toBe(true);
  });

  it('does not send a request when the signal is already aborted', async () => {
    const err = await failureOf(clientFor(fake).chat(ask('hi'), { signal: AbortSignal.abort() }));
    expect(isAbortError(err)).toBe(true);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('providers', () => {
  it('talks to Azure OpenAI on the deployment path with an api-key header', async () => {
    const client = createModelClient({
      providers: { azure: { type: 'azure', endpoint: fake.azureEndpoint, apiKey: API_KEY, apiVersion: '2024-10-21' } },
      env: {},
      retries: 0,
      timeoutMs: 5_000,
    });
    const result = await client.chat(ask('hi', { provider: 'azure', model: 'my-gpt4o' }));

    const req = fake.requests[0]!;
    expect(req.path).toBe('/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21');
    expect(req.headers['api-key']).toBe(API_KEY);
    expect(req.headers.authorization).toBeUndefined();
    expect(result.content).toBe('echo: hi');
  });

  it('builds the default provider from AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY', async () => {
    const client = createModelClient({
      providers: {},
      env: { AZURE_OPENAI_ENDPOINT: fake.azureEndpoint + '/', AZURE_OPENAI_API_KEY: API_KEY, OPENAI_API_VERSION: '2025-01-01-preview' },
      retries: 0,
      timeoutMs: 5_000,
    });
    await client.chat(ask('hi', { model: 'dep1' }));
    expect(fake.requests[0]!.path).toBe('/openai/deployments/dep1/chat/completions?api-version=2025-01-01-preview');
  });

  it('uses OPENAI_BASE_URL without a key for a local compatible server', async () => {
    const client = createModelClient({ providers: {}, env: { OPENAI_BASE_URL: fake.url }, retries: 0, timeoutMs: 5_000 });
    expect(client.checkProvider()).toMatchObject({ ok: true, provider: { type: 'openai', keySource: 'placeholder' } });
    const result = await client.chat(ask('hi'));
    expect(result.content).toBe('echo: hi');
    expect(fake.requests[0]!.headers.authorization).toBe('Bearer not-needed');
  });

  it('explains what to set when no credentials exist, before any request', async () => {
    const setup = { providers: {}, env: {} };
    const check = checkProvider(setup);
    expect(check.ok).toBe(false);

    const client = createModelClient({ ...setup, retries: 0, timeoutMs: 5_000 });
    const err = await failureOf(client.chat(ask('hi')));
    expect(err).toBeInstanceOf(ModelNotConfiguredError);
    for (const hint of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'Ollama', 'AZURE_OPENAI_ENDPOINT', 'AZURE_OPENAI_API_KEY', 'switchboard.yaml']) {
      expect((err as Error).message).toContain(hint);
    }
    expect(fake.requests).toHaveLength(0);
  });

  it('names the configured providers when asked for an unknown one', async () => {
    const client = clientFor(fake, { providers: { local: { type: 'openai', baseURL: fake.url } } });
    const err = await failureOf(client.chat(ask('hi', { provider: 'nope' })));
    expect(err).toBeInstanceOf(ModelNotConfiguredError);
    expect((err as Error).message).toContain('Unknown model provider "nope". Configured providers: default, local.');
  });

  it('describes every provider without revealing keys', () => {
    const setup = {
      providers: {
        azure: { type: 'azure' as const, endpoint: 'https://res.openai.azure.com', apiVersion: '2024-10-21' },
        local: { type: 'openai' as const, baseURL: 'http://localhost:11434/v1' },
      },
      env: { OPENAI_API_KEY: API_KEY },
    };
    const described = describeModelSetup(setup);
    expect(described.map((d) => [d.name, d.ok])).toEqual([
      ['default', true],
      ['azure', false],
      ['local', true],
    ]);
    expect(JSON.stringify(described)).not.toContain(API_KEY);
    expect(described[1]).toMatchObject({ message: expect.stringContaining('AZURE_OPENAI_API_KEY') });
  });
});

describe('images', () => {
  it('returns base64 image data and the revised prompt', async () => {
    const image = await clientFor(fake).generateImage({ provider: 'default', model: 'gpt-image-1', prompt: 'a lighthouse', size: '1024x1024' });
    expect(image.b64).toBe(TINY_PNG_B64);
    expect(image.revisedPrompt).toContain('a lighthouse');
    expect(fake.imageRequests[0]!.body).not.toHaveProperty('response_format');
  });

  it('asks dall-e models for base64 explicitly', async () => {
    await clientFor(fake).generateImage({ provider: 'default', model: 'dall-e-3', prompt: 'a cat' });
    expect(fake.imageRequests[0]!.body).toMatchObject({ model: 'dall-e-3', response_format: 'b64_json', n: 1 });
  });

  it('retries a failed image request', async () => {
    fake.failNext(1, 503);
    const image = await clientFor(fake).generateImage({ provider: 'default', model: 'gpt-image-1', prompt: 'x' });
    expect(image.b64).toBe(TINY_PNG_B64);
    expect(fake.imageRequests).toHaveLength(2);
  });
});
