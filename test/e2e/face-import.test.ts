/**
 * Importing the face loads no database driver: a program on PostgreSQL does not load SQLite's, one on
 * SQLite does not load pg, and one that only reads its config loads neither. Checked in a fresh Node
 * process on the built package (dist/index.js, what `import 'switchboard'` loads), by what that process
 * has loaded: CommonJS packages in the module cache (pg, better-sqlite3), built-ins in
 * `process.moduleLoadList` (node:sqlite). Each probe also opens what loads a driver, so the check is
 * seen to notice one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const DIST = join(ROOT, 'dist');

interface Loaded {
  pg: boolean;
  betterSqlite3: boolean;
  nodeSqlite: boolean;
}

/** Runs `body` (ESM, top-level await allowed) in a fresh Node and reports the drivers loaded before and after it. */
function probe(body: string): { before: Loaded; after: Loaded } {
  const script = `
    import { createRequire } from 'node:module';
    const cache = createRequire(${JSON.stringify(pathToFileURL(join(ROOT, 'package.json')).href)}).cache;
    const loaded = () => {
      const files = Object.keys(cache);
      const has = (name) => files.some((f) => f.includes('/node_modules/' + name + '/'));
      return { pg: has('pg'), betterSqlite3: has('better-sqlite3'), nodeSqlite: process.moduleLoadList.some((m) => /\\bsqlite\\b/.test(m)) };
    };
    const face = await import(${JSON.stringify(pathToFileURL(join(DIST, 'index.js')).href)});
    const before = loaded();
    ${body}
    process.stdout.write(JSON.stringify({ before, after: loaded() }));
  `;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (out.status !== 0) throw new Error(`probe failed (${out.status}): ${out.stderr}`);
  return JSON.parse(out.stdout) as { before: Loaded; after: Loaded };
}

const NONE: Loaded = { pg: false, betterSqlite3: false, nodeSqlite: false };

describe.skipIf(!existsSync(join(DIST, 'index.js')))('importing the face (dist/index.js; run `npm run build` first)', () => {
  it('loads no database driver; opening a SQLite store loads one SQLite driver and still not pg', () => {
    const { before, after } = probe(`
      const store = new face.SqliteStore({ path: ':memory:' });
      await store.init();
      await store.close();
    `);
    expect(before).toEqual(NONE);
    expect(after.pg).toBe(false);
    // node:sqlite where the runtime has it (Node >= 22.13), better-sqlite3 before: exactly one of them.
    expect(Number(after.betterSqlite3) + Number(after.nodeSqlite)).toBe(1);
  });

  it('loads no driver for the config and the presentation helpers; the PostgreSQL store module loads pg, and only it', () => {
    const { before, after } = probe(`
      face.parseConfig({ store: { type: 'postgres', url: 'postgres://nobody@127.0.0.1:1/none' } });
      face.describeEvent({ type: 'run.started', conversationId: 'c', runId: 'r', agent: 'proxy', depth: 0, at: 0 });
      await import(${JSON.stringify(pathToFileURL(join(DIST, 'core/store/postgres.js')).href)});
    `);
    expect(before).toEqual(NONE);
    expect(after).toEqual({ pg: true, betterSqlite3: false, nodeSqlite: false });
  });
});
