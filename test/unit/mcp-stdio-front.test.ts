import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { REPLAYED_INITIALIZE_ID, StdioFront } from '../../src/mcp/stdio-front.js';

function front() {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const out: Record<string, unknown>[] = [];
  let buf = '';
  stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) out.push(JSON.parse(l) as Record<string, unknown>);
  });
  let needed = 0;
  let ended = 0;
  const f = new StdioFront({
    stdin,
    stdout,
    needEngine: () => needed++,
    onEnd: () => ended++,
    fast: { initialize: (p) => ({ echo: p?.protocolVersion }), listTools: () => ({ tools: [{ name: 'ask_x' }] }) },
  });
  f.listen();
  const send = (...lines: string[]) => stdin.write(lines.map((l) => l + '\n').join(''));
  const tick = () => new Promise((r) => setTimeout(r, 10));
  return { f, out, send, tick, needed: () => needed, ended: () => ended, stdin };
}

const init = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"elicitation":{}},"clientInfo":{"name":"t","version":"1"}}}';

describe('the stdio front', () => {
  it('answers the opening moves itself and asks for the engine after tools/list', async () => {
    const t = front();
    t.send(init, '{"jsonrpc":"2.0","method":"notifications/initialized"}', '{"jsonrpc":"2.0","id":2,"method":"ping"}', '{"jsonrpc":"2.0","id":3,"method":"tools/list"}');
    await t.tick();
    expect(t.out).toEqual([
      { jsonrpc: '2.0', id: 1, result: { echo: '2025-06-18' } },
      { jsonrpc: '2.0', id: 2, result: {} },
      { jsonrpc: '2.0', id: 3, result: { tools: [{ name: 'ask_x' }] } },
    ]);
    expect(t.needed()).toBeGreaterThan(0);
  });

  it('queues the rest, then replays the handshake (answer swallowed) and the queue in order once attached', async () => {
    const t = front();
    t.send(init, '{"jsonrpc":"2.0","method":"notifications/initialized"}', '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ask_x"}}', '{"jsonrpc":"2.0","id":3,"method":"ping"}');
    await t.tick();
    expect(t.out.map((m) => m.id)).toEqual([1]);
    const seen: unknown[] = [];
    t.f.onmessage = (m) => seen.push(m);
    t.f.attached();
    expect(seen).toEqual([
      expect.objectContaining({ id: REPLAYED_INITIALIZE_ID, method: 'initialize', params: expect.objectContaining({ capabilities: { elicitation: {} } }) }),
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      expect.objectContaining({ id: 2, method: 'tools/call' }),
      expect.objectContaining({ id: 3, method: 'ping' }),
    ]);
    await t.f.send({ jsonrpc: '2.0', id: REPLAYED_INITIALIZE_ID, result: {} } as never);
    await t.f.send({ jsonrpc: '2.0', id: 2, result: { content: [] } });
    await t.tick();
    expect(t.out.map((m) => m.id)).toEqual([1, 2]);
  });

  it('answers malformed lines with JSON-RPC errors and keeps reading, also across chunk boundaries', async () => {
    const t = front();
    t.stdin.write('{"jsonrpc":"2.0","id":7,"met');
    t.stdin.write('hod":"ping"}\nnot json\n');
    t.send('{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}', '{"jsonrpc":"2.0","method":"notifications/x","params":1}', '{"jsonrpc":"2.0","id":8,"method":"ping"}');
    await t.tick();
    expect(t.out).toEqual([
      { jsonrpc: '2.0', id: 7, result: {} },
      { jsonrpc: '2.0', id: null, error: { code: -32700, message: expect.stringMatching(/^Parse error/) } },
      { jsonrpc: '2.0', id: null, error: { code: -32600, message: expect.stringMatching(/"id" must be a string or a number/) } },
      { jsonrpc: '2.0', id: 8, result: {} },
    ]);
  });

  it('closes when stdin ends, once what was asked before has been answered', async () => {
    const t = front();
    let closed = false;
    t.f.onClosed(() => (closed = true));
    t.send(init, '{"jsonrpc":"2.0","id":2,"method":"resources/list"}');
    t.stdin.end();
    await t.tick();
    expect(closed).toBe(false);
    t.f.onmessage = (m) => {
      if ('id' in m && m.id === 2) void t.f.send({ jsonrpc: '2.0', id: 2, result: { resources: [] } });
    };
    t.f.attached();
    await t.tick();
    expect(t.out.map((m) => m.id)).toEqual([1, 2]);
    expect(closed).toBe(true);

    const idle = front();
    let idleClosed = false;
    idle.f.onClosed(() => (idleClosed = true));
    idle.stdin.end();
    await idle.tick();
    expect(idleClosed).toBe(true);
  });

  it('on end() (SIGTERM) stops reading, tells the server to hand back what is in flight, and closes once it is answered', async () => {
    const t = front();
    let closed = false;
    t.f.onClosed(() => (closed = true));
    const seen: unknown[] = [];
    t.f.onmessage = (m) => seen.push(m);
    t.f.attached();
    t.send('{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"ask_x"}}');
    await t.tick();
    t.f.end();
    expect(t.ended()).toBe(1);
    // Read no more: a request after the end is not taken.
    t.send('{"jsonrpc":"2.0","id":6,"method":"ping"}');
    await t.tick();
    expect(seen.map((m) => (m as { id?: unknown }).id)).toEqual([5]);
    expect(closed).toBe(false);
    await t.f.send({ jsonrpc: '2.0', id: 5, result: { content: [] } });
    expect(closed).toBe(true);
    t.f.end();
    expect(t.ended()).toBe(1);
  });
});
