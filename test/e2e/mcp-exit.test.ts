/**
 * `switchboard mcp` goes away promptly when its host is done (stdin closes) or stops it (SIGTERM):
 * a call in flight is handed back with its run_id instead of holding the process, and the run is
 * not lost — the next process resumes it and get_run returns the reply. No timing is asserted:
 * the bench (bench/scenarios/cold-start.ts) measures how fast.
 */
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scriptByAgent } from '../support/fake-openai.js';
import { BIN, connectStdio, startWorld, until, type McpWorld } from '../support/mcp-harness.js';
import type { RunOutput } from '../../src/mcp/schemas.js';

interface Line {
  id?: unknown;
  method?: string;
  result?: { structuredContent?: RunOutput; isError?: boolean };
  error?: unknown;
}

function spawnMcp(world: McpWorld) {
  const child = spawn(process.execPath, [BIN, 'mcp'], { cwd: world.dir, env: { PATH: process.env.PATH, ...world.env() }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdin.on('error', () => {});
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));
  const lines = () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
  const send = (m: object) => child.stdin.write(JSON.stringify(m) + '\n');
  send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
  send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  return { child, exited, lines, send, stderr: () => err };
}

describe('switchboard mcp exits when its host is done, and loses no work', () => {
  let world: McpWorld;
  beforeEach(async () => {
    world = await startWorld();
  });
  afterEach(async () => world?.close());

  for (const how of ['stdin closes', 'SIGTERM'] as const) {
    it(`hands back a call in flight when ${how}, exits 0, and the next process finishes the run`, async () => {
      world.fake.setHandler(scriptByAgent({ vision_agent: [{ hang: true }, { content: 'Finished after the restart.' }] }));
      const p = spawnMcp(world);
      try {
        p.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'ask_vision_agent', arguments: { message: 'Describe boat.png' } } });
        await until(() => world.fake.requests.length > 0, 'the model request', 30_000);
        if (how === 'SIGTERM') p.child.kill('SIGTERM');
        else p.child.stdin.end();
        expect(await p.exited, p.stderr()).toEqual({ code: 0, signal: null });
      } finally {
        if (p.child.exitCode === null) p.child.kill('SIGKILL');
      }
      // The call was answered before the exit: a handle, not an error and not a cancellation.
      const answer = p.lines().find((l) => l.id === 2);
      expect(answer?.result?.isError).toBeFalsy();
      const handle = answer!.result!.structuredContent!;
      expect(handle).toMatchObject({ agent: 'vision_agent', status: 'in_progress' });

      const next = await connectStdio(world);
      try {
        const done = await next.client.callTool({ name: 'get_run', arguments: { run_id: handle.run_id, wait_seconds: 20 } });
        expect(done.structuredContent).toMatchObject({ run_id: handle.run_id, status: 'completed', reply: 'Finished after the restart.' });
      } finally {
        await next.close();
      }
    });
  }

  it('exits 0 when stdin closes before anything was asked, and while the server is still loading', async () => {
    const idle = spawnMcp(world);
    idle.child.stdin.end();
    expect(await idle.exited).toEqual({ code: 0, signal: null });
    expect(idle.lines().find((l) => l.id === 1)?.result).toBeDefined();

    const listing = spawnMcp(world);
    listing.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    await until(() => listing.lines().some((l) => l.id === 2), 'the tools/list answer', 30_000);
    // The SDK server and the engine are loading now (tools/list starts that): closing must not wait for a fallback timer.
    listing.child.stdin.end();
    expect(await listing.exited).toEqual({ code: 0, signal: null });
    expect(listing.stderr()).not.toMatch(/error/i);
  });
});
