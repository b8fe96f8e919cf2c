import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createGuard, isLoopback } from '../../src/mcp/guard.js';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
const TOKEN = 'alice-token-0123456789abcdef';

describe('the HTTP guard', () => {
  it('on loopback without tokens: localhost names pass as mcp:local, others are refused', () => {
    const guard = createGuard({ bindHost: '127.0.0.1', tokens: {} });
    for (const host of ['127.0.0.1:3939', 'localhost:3939', '[::1]:3939', 'localhost']) {
      expect(guard(req({ host }))).toMatchObject({ ok: true, principal: { surface: 'mcp', userId: 'local' } });
    }
    expect(guard(req({ host: 'evil.example.com' }))).toMatchObject({ ok: false, status: 403 });
    expect(guard(req({}))).toMatchObject({ ok: false, status: 403 });
    expect(guard(req({ host: 'localhost:1', origin: 'http://evil.example.com' }))).toMatchObject({ ok: false, status: 403 });
    expect(guard(req({ host: 'localhost:1', origin: 'null' }))).toMatchObject({ ok: false, status: 403 });
    expect(guard(req({ host: 'localhost:1', origin: 'http://localhost:5173' }))).toMatchObject({ ok: true });
  });

  it('accepts extra host names and origins when told', () => {
    const guard = createGuard({ bindHost: '127.0.0.1', tokens: {}, allowedHosts: ['mcp.internal'], allowedOrigins: ['https://app.example'] });
    expect(guard(req({ host: 'mcp.internal:443' }))).toMatchObject({ ok: true });
    expect(guard(req({ host: 'localhost', origin: 'https://app.example' }))).toMatchObject({ ok: true });
    expect(guard(req({ host: 'localhost', origin: 'https://other.example' }))).toMatchObject({ ok: false, status: 403 });
  });

  it('needs tokens to bind beyond loopback, and then a valid bearer token on every request', () => {
    expect(() => createGuard({ bindHost: '0.0.0.0', tokens: {} })).toThrow(/needs bearer tokens/);
    const guard = createGuard({ bindHost: '0.0.0.0', tokens: { 'slack:T1:U9': TOKEN } });
    expect(guard(req({ host: 'anything:1' }))).toMatchObject({ ok: false, status: 401, headers: { 'www-authenticate': expect.stringMatching(/^Bearer/) } });
    expect(guard(req({ host: 'anything:1', authorization: 'Bearer wrong' }))).toMatchObject({ ok: false, status: 401 });
    expect(guard(req({ host: 'anything:1', authorization: `Basic ${TOKEN}` }))).toMatchObject({ ok: false, status: 401 });
    expect(guard(req({ host: 'anything:1', authorization: `Bearer ${TOKEN}` }))).toMatchObject({
      ok: true,
      principalKey: 'slack:T1:U9',
      principal: { surface: 'slack', tenant: 'T1', userId: 'U9' },
    });
  });

  it('checks the Host against a named bind address', () => {
    const guard = createGuard({ bindHost: '10.0.0.5', tokens: { alice: TOKEN } });
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect(guard(req({ host: '10.0.0.5:3939', ...auth }))).toMatchObject({ ok: true });
    expect(guard(req({ host: 'evil.example.com', ...auth }))).toMatchObject({ ok: false, status: 403 });
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '10.0.0.1', '::', 'example.com'].some(isLoopback)).toBe(false);
  });
});
