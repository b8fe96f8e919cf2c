import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigInput } from '../src/core/agents/spec.js';
import type { ModelClient } from '../src/core/model/types.js';
import { createSwitchboard, type Switchboard } from '../src/core/switchboard.js';

export interface BenchEngine {
  sb: Switchboard;
  dir: string;
  close(): Promise<void>;
}

/**
 * The engine as a user runs it: built through `createSwitchboard` with the real openai client
 * pointed at the fake, and a SQLite file (WAL) in a fresh temp folder — durable, on disk.
 */
export async function openEngine(modelUrl: string, config: ConfigInput = {}, model?: ModelClient): Promise<BenchEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-'));
  const sb = await createSwitchboard({
    config: { ...config, store: { type: 'sqlite', path: join(dir, 'switchboard.db') }, workspaceDir: join(dir, 'workspaces') },
    env: { OPENAI_BASE_URL: modelUrl, OPENAI_API_KEY: 'sk-bench-not-a-real-key' },
    cwd: dir,
    ...(model ? { model } : {}),
  });
  return {
    sb,
    dir,
    async close() {
      await sb.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const benchUser = { surface: 'bench', userId: 'bench' } as const;

/** Runs garbage collection when node was started with --expose-gc. */
export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
