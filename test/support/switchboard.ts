import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSwitchboard, type Switchboard, type SwitchboardOptions } from '../../src/core/switchboard.js';
import type { ConfigInput } from '../../src/core/agents/spec.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeOpenAIOptions } from './fake-openai.js';

export interface Harness {
  sb: Switchboard;
  fake: FakeOpenAI;
  dir: string;
  close(): Promise<void>;
}

/**
 * A Switchboard wired to a fresh fake OpenAI server and a SQLite file in a temp folder —
 * the real engine, the real openai client, the real store.
 */
export async function startHarness(
  opts: { config?: ConfigInput; fake?: FakeOpenAIOptions; switchboard?: Partial<SwitchboardOptions>; memory?: boolean } = {},
): Promise<Harness> {
  const fake = await startFakeOpenAI(opts.fake);
  const dir = mkdtempSync(join(tmpdir(), 'sb-test-'));
  const config: ConfigInput = {
    ...opts.config,
    store: opts.memory ? { type: 'sqlite', path: ':memory:' } : { type: 'sqlite', path: join(dir, 'switchboard.db') },
    workspaceDir: join(dir, 'workspaces'),
    limits: { modelRetries: 2, ...opts.config?.limits },
    // .ci/run sets this where bubblewrap cannot work, so run_code still runs (unsandboxed) in these tests.
    ...(process.env.SWITCHBOARD_TEST_SANDBOX === 'none' && !opts.config?.sandbox ? { sandbox: { type: 'none' as const } } : {}),
  };
  const sb = await createSwitchboard({
    config,
    env: { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'sk-test-secret-key' },
    cwd: dir,
    engine: { pollMs: 20, ...opts.switchboard?.engine },
    ...opts.switchboard,
  });
  return {
    sb,
    fake,
    dir,
    async close() {
      await sb.close();
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const alice = { surface: 'test', userId: 'alice' } as const;
export const bob = { surface: 'test', userId: 'bob' } as const;
