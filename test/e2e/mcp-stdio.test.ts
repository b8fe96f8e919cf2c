import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { scriptByAgent, type WireMessage } from '../support/fake-openai.js';
import { BIN, connectStdio, startWorld, textOf, until, type McpWorld, type StdioSession } from '../support/mcp-harness.js';
import type { RunOutput } from '../../src/mcp/schemas.js';

const turns = (messages: WireMessage[]) => messages.filter((m) => m.role !== 'system').map((m) => [m.role, m.content]);

describe('switchboard mcp (stdio), spawned the way a host does', () => {
  let world: McpWorld;
  let s: StdioSession;
  beforeAll(async () => {
    world = await startWorld({ config: { agents: { translator: { description: 'Translates text between languages.' } }, limits: { maxMessageChars: 2000 } } });
    s = await connectStdio(world);
  });
  afterAll(async () => {
    await s?.close();
    await world?.close();
  });

  it('lists one tool per specialist (config agents included), the team tool and the run tools, with schemas and honest annotations', async () => {
    const { tools } = await s.client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual([
      'ask_team',
      'ask_image_agent',
      'ask_vision_agent',
      'ask_code_agent',
      'ask_translator',
      'get_run',
      'cancel_run',
      'plan_task',
      'get_plan',
      'approve_step',
      'reject_step',
      'cancel_plan',
      'decide_approval',
    ]);
    const vision = tools.find((t) => t.name === 'ask_vision_agent')!;
    expect(vision.description).toContain('Analyses images');
    expect(vision.inputSchema.required).toEqual(['message']);
    expect(vision.inputSchema.properties).toMatchObject({ message: { type: 'string', maxLength: 2000 }, conversation_id: { type: 'string' } });
    expect(vision.outputSchema?.required).toEqual(expect.arrayContaining(['conversation_id', 'agent', 'run_id', 'status']));
    expect(vision.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false, openWorldHint: true });
    expect(tools.find((t) => t.name === 'ask_code_agent')!.annotations?.destructiveHint).toBe(true);
    // The team lead can delegate to the code agent, so the team tool is destructive too.
    expect(tools.find((t) => t.name === 'ask_team')!.annotations?.destructiveHint).toBe(true);
    expect(tools.find((t) => t.name === 'get_run')!.annotations?.readOnlyHint).toBe(true);

    // The first answer came from the fast path; once the SDK server is up it answers the same.
    await s.client.ping();
    await s.client.listResources();
    expect((await s.client.listTools()).tools).toEqual(tools);
  });

  it('continues a specialist thread: the second ask_vision_agent request carries the first exchange', async () => {
    world.fake.setHandler(scriptByAgent({ vision_agent: [{ content: 'A black cat on a red sofa.' }, { content: 'The sofa is red.' }] }));
    const first = await s.client.callTool({ name: 'ask_vision_agent', arguments: { message: 'What is in cat.png?' } });
    const out1 = first.structuredContent as RunOutput;
    expect(first.isError).toBeFalsy();
    expect(out1).toMatchObject({ agent: 'vision_agent', status: 'completed', reply: 'A black cat on a red sofa.' });
    expect(out1.conversation_id).toMatch(/^conv_/);
    expect(out1.usage).toMatchObject({ model_calls: 1 });
    expect(out1.usage!.prompt_tokens).toBeGreaterThan(0);
    // Hosts that read only text get the reply and the id to continue with.
    expect(textOf(first)).toContain('A black cat on a red sofa.');
    expect(textOf(first)).toContain(out1.conversation_id);

    const second = await s.client.callTool({ name: 'ask_vision_agent', arguments: { message: 'What colour is the sofa?', conversation_id: out1.conversation_id } });
    expect(second.structuredContent).toMatchObject({ conversation_id: out1.conversation_id, reply: 'The sofa is red.' });
    const requests = world.fake.requests.filter((r) => r.agent === 'vision_agent');
    expect(turns(requests.at(-1)!.body.messages)).toEqual([
      ['user', 'What is in cat.png?'],
      ['assistant', 'A black cat on a red sofa.'],
      ['user', 'What colour is the sofa?'],
    ]);

    // The transcript is a resource of this principal.
    const { resources } = await s.client.listResources();
    expect(resources.map((r) => r.uri)).toContain(`switchboard://conversations/${out1.conversation_id}`);
    const read = await s.client.readResource({ uri: `switchboard://conversations/${out1.conversation_id}` });
    const text = (read.contents[0] as { text: string }).text;
    expect(read.contents[0]!.mimeType).toBe('text/markdown');
    expect(text).toContain('## Thread with vision_agent');
    expect(text).toContain('What colour is the sofa?');
    expect(text).toContain('The sofa is red.');
  });

  it('reports progress while the team works: who works, delegations, and a heartbeat', async () => {
    world.fake.setHandler(
      scriptByAgent({
        proxy: [{ toolCalls: [{ name: 'send_message', arguments: { recipient: 'vision_agent', message: 'Describe dog.png' } }] }, (req) => ({ content: `Team: ${req.toolResults[0]!.content}` })],
        vision_agent: [{ content: 'A dog.', latencyMs: 600 }],
      }),
    );
    const progress: Progress[] = [];
    const result = await s.client.callTool({ name: 'ask_team', arguments: { message: 'What is in dog.png?' } }, undefined, {
      onprogress: (p) => progress.push(p),
    });
    expect(result.structuredContent).toMatchObject({ agent: 'proxy', status: 'completed', reply: 'Team: A dog.' });
    const messages = progress.map((p) => p.message ?? '');
    expect(messages).toEqual(expect.arrayContaining([expect.stringMatching(/proxy → vision_agent: Describe dog\.png/), expect.stringMatching(/vision_agent answered proxy/)]));
    expect(messages).toContain('vision_agent started');
    expect(messages.some((m) => /vision_agent (is|are) working \(\d+ s\)/.test(m))).toBe(true);
    const values = progress.map((p) => p.progress);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(new Set(values).size).toBe(values.length);
  });

  it('cancels the run when the host cancels the request', async () => {
    world.fake.setHandler(scriptByAgent({ vision_agent: [{ hang: true }] }));
    const before = world.fake.requests.length;
    const ac = new AbortController();
    const progress: Progress[] = [];
    const call = s.client.callTool({ name: 'ask_vision_agent', arguments: { message: 'Take your time.' } }, undefined, {
      signal: ac.signal,
      onprogress: (p) => progress.push(p),
    });
    await until(() => world.fake.requests.length > before, 'the model request');
    ac.abort('changed my mind');
    await expect(call).rejects.toThrow();
    const request = world.fake.requests[before]!;
    await until(() => request.endedAt !== null, 'the model request to be aborted');
    const runId = /run (run_\w+)/.exec(progress[0]?.message ?? '')?.[1];
    expect(runId).toBeDefined();
    const status = await s.client.callTool({ name: 'get_run', arguments: { run_id: runId, wait_seconds: 5 } });
    expect(status.structuredContent).toMatchObject({ run_id: runId, status: 'cancelled' });
  });

  it('turns bad input into tool errors a person understands, and keeps serving', async () => {
    // An unknown tool is a protocol error (-32602), as the spec lists it; bad arguments are tool errors.
    await expect(s.client.callTool({ name: 'ask_nobody', arguments: { message: 'hi' } })).rejects.toMatchObject({ code: -32602, message: expect.stringMatching(/Unknown tool: ask_nobody/) });

    const missing = await s.client.callTool({ name: 'ask_translator', arguments: {} });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toMatch(/message is required: the text to send to translator/);

    const wrongType = await s.client.callTool({ name: 'ask_vision_agent', arguments: { message: 42 } });
    expect(wrongType.isError).toBe(true);
    expect(textOf(wrongType)).toMatch(/message must be a string/);

    const tooLong = await s.client.callTool({ name: 'ask_vision_agent', arguments: { message: 'x'.repeat(2001) } });
    expect(tooLong.isError).toBe(true);
    expect(textOf(tooLong)).toMatch(/longer than the limit of 2000 characters/);

    const unknownConversation = await s.client.callTool({ name: 'ask_vision_agent', arguments: { message: 'hi', conversation_id: 'conv_nope' } });
    expect(unknownConversation.isError).toBe(true);
    expect(textOf(unknownConversation)).toMatch(/No conversation with id "conv_nope"/);

    const unknownRun = await s.client.callTool({ name: 'get_run', arguments: { run_id: 'run_nope' } });
    expect(unknownRun.isError).toBe(true);
    expect(textOf(unknownRun)).toMatch(/No run with id "run_nope"/);

    await expect(s.client.readResource({ uri: 'switchboard://conversations/conv_nope' })).rejects.toThrow(/No conversation "conv_nope"/);
    expect((await s.client.listTools()).tools.length).toBeGreaterThan(0);
  });

  it('keeps one principal out of another\'s conversations', async () => {
    world.fake.setHandler(scriptByAgent({ translator: [{ content: 'Bonjour.' }] }));
    const mine = await s.client.callTool({ name: 'ask_translator', arguments: { message: 'Hello in French?' } });
    const id = (mine.structuredContent as RunOutput).conversation_id;
    const bob = await connectStdio(world, { env: { SWITCHBOARD_MCP_USER: 'bob' } });
    try {
      const theirs = await bob.client.callTool({ name: 'ask_translator', arguments: { message: 'And in German?', conversation_id: id } });
      expect(theirs.isError).toBe(true);
      expect(textOf(theirs)).toMatch(/belongs to someone else/);
      await expect(bob.client.readResource({ uri: `switchboard://conversations/${id}` })).rejects.toThrow(/No conversation/);
      expect((await bob.client.listResources()).resources.map((r) => r.uri)).not.toContain(`switchboard://conversations/${id}`);
    } finally {
      await bob.close();
    }
  });
});

describe('switchboard mcp: long work returns a handle', () => {
  let world: McpWorld;
  beforeAll(async () => {
    world = await startWorld({ config: { mcp: { askTimeoutMs: 300 } } });
  });
  afterAll(async () => world?.close());

  it('answers "in_progress" with a run_id after mcp.askTimeoutMs, and get_run returns the reply later', async () => {
    world.fake.setHandler(scriptByAgent({ vision_agent: [{ content: 'Worth the wait.', latencyMs: 1200 }] }));
    const s = await connectStdio(world);
    try {
      const started = await s.client.callTool({ name: 'ask_vision_agent', arguments: { message: 'Slow one' } });
      const handle = started.structuredContent as RunOutput;
      expect(started.isError).toBeFalsy();
      expect(handle).toMatchObject({ agent: 'vision_agent', status: 'in_progress' });
      expect(handle.run_id).toMatch(/^run_/);
      expect(textOf(started)).toMatch(/get_run/);
      let done = handle;
      for (let i = 0; i < 20 && done.status !== 'completed'; i++) {
        done = (await s.client.callTool({ name: 'get_run', arguments: { run_id: handle.run_id, wait_seconds: 5 } })).structuredContent as RunOutput;
      }
      expect(done).toMatchObject({ run_id: handle.run_id, conversation_id: handle.conversation_id, status: 'completed', reply: 'Worth the wait.' });
    } finally {
      await s.close();
    }
  });
});

describe('switchboard mcp: malformed JSON-RPC on the wire', () => {
  let world: McpWorld;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => world?.close());

  it('answers parse errors and invalid requests, then goes on serving', async () => {
    const child = spawn(process.execPath, [BIN, 'mcp'], { cwd: world.dir, env: { PATH: process.env.PATH, ...world.env() }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const lines = () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id?: unknown; error?: { code: number; message: string }; result?: unknown });
    const send = (s: string) => child.stdin.write(s + '\n');
    try {
      send('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}');
      send('{"jsonrpc":"2.0","method":"notifications/initialized"}');
      send('{not json');
      send('[{"jsonrpc":"2.0","id":2,"method":"ping"}]');
      send('{"jsonrpc":"1.0","id":3,"method":"ping"}');
      send('{"jsonrpc":"2.0","id":4,"method":"tools/call","params":"oops"}');
      send('{"jsonrpc":"2.0","id":5,"method":"no/such/method"}');
      send('{"jsonrpc":"2.0","id":6,"method":"tools/list"}');
      await until(() => lines().some((l) => l.id === 6) && lines().some((l) => l.id === 5), 'answers');
      const byId = (id: unknown) => lines().find((l) => l.id === id);
      const errors = lines().filter((l) => l.id === null);
      expect(errors.map((e) => e.error?.code)).toEqual([-32700, -32600]);
      expect(errors[0]!.error!.message).toMatch(/^Parse error/);
      expect(errors[1]!.error!.message).toMatch(/batches are not supported/);
      expect(byId(3)?.error).toMatchObject({ code: -32600, message: expect.stringMatching(/"jsonrpc" must be "2.0"/) });
      expect(byId(4)?.error).toMatchObject({ code: -32602 });
      expect(byId(5)?.error).toMatchObject({ code: -32601 });
      expect((byId(6)?.result as { tools: unknown[] }).tools.length).toBeGreaterThan(0);
    } finally {
      child.kill();
    }
  });
});
