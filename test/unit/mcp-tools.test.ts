import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { parseConfig } from '../../src/core/agents/load.js';
import { silentLogger } from '../../src/core/logger.js';
import { describeDeployment, type McpDeps } from '../../src/mcp/context.js';
import { createMcpServer } from '../../src/mcp/server.js';

// Argument errors are caught before a handler runs, so no engine is needed: opening one fails the test.
async function client(): Promise<Client> {
  const config = parseConfig({});
  const { agents, catalog, plans } = describeDeployment(config);
  const deps: McpDeps = {
    config,
    agents,
    catalog,
    plans,
    env: { OPENAI_API_KEY: 'sk-test' },
    logger: silentLogger,
    principal: { surface: 'mcp', userId: 'test' },
    progressIntervalMs: 100,
    askTimeoutMs: 1000,
    switchboard: () => Promise.reject(new Error('the engine must not be opened for bad arguments')),
  };
  const [a, b] = InMemoryTransport.createLinkedPair();
  await createMcpServer(deps).connect(a);
  const c = new Client({ name: 't', version: '1' });
  await c.connect(b);
  return c;
}

const text = (r: unknown) => (((r as { content?: unknown }).content ?? []) as { text?: string }[]).map((c) => c.text ?? '').join('\n');

describe('MCP tools/call answers', () => {
  it('an unknown tool with the JSON-RPC error -32602 "Unknown tool", not a tool result', async () => {
    const c = await client();
    const call = c.callTool({ name: 'ask_nobody', arguments: { message: 'hi' } });
    await expect(call).rejects.toBeInstanceOf(McpError);
    await expect(call).rejects.toMatchObject({ code: ErrorCode.InvalidParams, message: expect.stringMatching(/Unknown tool: ask_nobody\. The tools are: ask_team, .*get_run/) });
    // The session goes on.
    expect((await c.listTools()).tools.length).toBeGreaterThan(0);
    await c.close();
  });

  it('a missing message by saying it is required and whom it goes to', async () => {
    const c = await client();
    const missing = await c.callTool({ name: 'ask_vision_agent', arguments: {} });
    expect(missing.isError).toBe(true);
    expect(text(missing)).toBe('Invalid arguments for ask_vision_agent: message is required: the text to send to vision_agent (what you want done or answered).');
    const noArgs = await c.callTool({ name: 'ask_team' });
    expect(text(noArgs)).toMatch(/^Invalid arguments for ask_team: message is required: the text to send to the team/);
    const wrongType = await c.callTool({ name: 'ask_code_agent', arguments: { message: 42 } });
    expect(text(wrongType)).toMatch(/message must be a string: what you want the agent to do or answer/);
    const empty = await c.callTool({ name: 'ask_code_agent', arguments: { message: '' } });
    expect(text(empty)).toMatch(/message must not be empty/);
    await c.close();
  });

  it('missing fields of the run, plan and approval tools by name and purpose', async () => {
    const c = await client();
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['get_run', {}, /run_id is required: The run_id an ask_\* tool returned\./],
      ['get_run', { run_id: 'run_1', wait_seconds: 'soon' }, /wait_seconds: Invalid input: expected number/],
      ['cancel_run', {}, /run_id is required/],
      ['plan_task', {}, /goal is required: What the plan should achieve/],
      ['get_plan', {}, /plan_id is required: The plan_id plan_task returned\./],
      ['approve_step', {}, /step_id is required: A step_id from the plan/],
      ['reject_step', { step_id: 'step_1' }, /feedback is required: Why the step is rejected/],
      ['decide_approval', { approval_id: 'apr_1' }, /approve is required: true to approve, false to reject\./],
      ['decide_approval', { approval_id: 'apr_1', approve: 'yes' }, /approve must be true or false/],
    ];
    for (const [name, args, expected] of cases) {
      const r = await c.callTool({ name, arguments: args });
      expect(r.isError, name).toBe(true);
      expect(text(r), name).toMatch(expected);
    }
    await c.close();
  });
});
