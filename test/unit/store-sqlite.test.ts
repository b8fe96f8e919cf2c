import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqliteDriverName } from '../../src/core/store/sqlite-driver.js';
import { applyMigrations, planSqliteMigrations, sqliteMigrations } from '../../src/core/store/migrations.js';
import { openSqliteDatabase } from '../../src/core/store/sqlite-driver.js';
import { SqliteStore } from '../../src/core/store/sqlite.js';
import { describeEachSqliteDriver } from '../support/sqlite-drivers.js';
import { describeStoreContract, msg, queue, seed } from '../support/store-contract.js';

/**
 * What every Store must do is in test/support/store-contract.ts; this file adds what is SQLite's own.
 * Everything runs once per SQLite driver this Node can use.
 */

let dir: string;
const open: SqliteStore[] = [];
let now = 1_000;
const clock = () => now;

let driver: SqliteDriverName;

async function store(path = ':memory:', extra: Partial<ConstructorParameters<typeof SqliteStore>[0]> = {}): Promise<SqliteStore> {
  const s = new SqliteStore({ path, clock, driver, ...extra });
  await s.init();
  open.push(s);
  return s;
}

async function closeAll(): Promise<void> {
  for (const s of open.splice(0)) await s.close();
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sb-store-'));
  now = 1_000;
});

afterEach(async () => {
  await closeAll();
  rmSync(dir, { recursive: true, force: true });
});

describeEachSqliteDriver('store-sqlite', (name) => {
  beforeEach(() => {
    driver = name;
  });

  // One file per spec, in a directory the store creates; `second` is another connection to the file.
  describeStoreContract('SqliteStore: store contract', async (contractClock) => {
    const path = join(dir, 'db', 'sb.db');
    const connect = () => store(path, { clock: contractClock });
    return { store: await connect(), second: connect, cleanup: closeAll };
  });

  describe('SqliteStore: files and migrations', () => {
    it('records who took part before participants were kept: owners, run requesters and plan makers (migration 40)', async () => {
      const path = join(dir, 'old.db');
      const old = openSqliteDatabase(path, { driver });
      applyMigrations(old, [sqliteMigrations[0]!, ...planSqliteMigrations]);
      const principal = (userId: string, tenant?: string) => JSON.stringify({ surface: 'slack', userId, ...(tenant ? { tenant } : {}) });
      old.prepare("INSERT INTO conversations (id, key, owner, owner_surface, owner_user_id, created_at) VALUES ('c1', 'k1', ?, 'slack', 'U1', 10)").run(principal('U1', 'T1'));
      old.prepare("INSERT INTO threads (id, conversation_id, agent, created_at) VALUES ('t1', 'c1', 'proxy', 10)").run();
      for (const [id, who, at] of [['r1', principal('U2', 'T1'), 30], ['r2', principal('U2', 'T1'), 20], ['r3', null, 25]] as const) {
        old.prepare("INSERT INTO runs (id, conversation_id, thread_id, agent, status, requested_by, created_at, progress_at) VALUES (?, 'c1', 't1', 'proxy', 'completed', ?, ?, ?)").run(id, who, at, at);
      }
      old.prepare("INSERT INTO plans (id, conversation_id, goal, status, mode, created_by, created_at, updated_at) VALUES ('p1', 'c1', 'g', 'completed', 'none', ?, 40, 40)").run(principal('U3'));
      old.close();
      const s = await store(path);
      expect(await s.listParticipants('c1')).toEqual([
        { surface: 'slack', userId: 'U1', tenant: 'T1' },
        { surface: 'slack', userId: 'U2', tenant: 'T1' },
        { surface: 'slack', userId: 'U3' },
      ]);
      expect(await s.getConversation('c1')).toMatchObject({ access: 'private' });
      expect(await s.getRun('r1')).toMatchObject({ idempotencyKey: null });
    });

    it('applies migrations once, records the version and uses WAL', async () => {
      const path = join(dir, 'nested', 'deeper', 'sb.db');
      const a = await store(path);
      await a.init();
      const b = await store(path);
      expect(a.schemaVersions().map((v) => v.version)).toEqual([1, 3, 40, 41]);
      expect(b.schemaVersions()).toEqual(a.schemaVersions());
      expect(a.schemaVersions()[0]!.appliedAt).toBe(1_000);
      expect(a.db.driver).toBe(name);
      expect(a.db.pragma('journal_mode')).toBe('wal');
      expect(a.db.pragma('foreign_keys')).toBe(1);

      const extra = { version: 2, name: 'test: widgets', sql: 'CREATE TABLE widgets (id TEXT PRIMARY KEY)' };
      const c = await store(path, { extraMigrations: [extra] });
      const d = await store(path, { extraMigrations: [extra] });
      expect(d.schemaVersions().map((v) => v.version)).toEqual([1, 2, 3, 40, 41]);
      c.transaction(() => c.db.prepare('INSERT INTO widgets (id) VALUES (?)').run('w1'));
      expect(d.db.prepare('SELECT id FROM widgets').all().map((r) => r.id)).toEqual(['w1']);
      expect(a.migrate([extra])).toEqual([]);

      // Two modules that picked the same version must not silently skip one of them.
      expect(() => a.migrate([{ version: 2, name: 'test: gadgets', sql: 'CREATE TABLE gadgets (id TEXT)' }])).toThrow(/clashes/);
      expect(() => new SqliteStore({ path, extraMigrations: [{ version: 1, name: 'dup', sql: '' }] })).toThrow(/share version 1/);
    });

    it('refuses to be used before init', async () => {
      const s = new SqliteStore({ path: ':memory:', driver });
      open.push(s);
      await expect(s.getRun('x')).rejects.toThrow(/init\(\)/);
    });
  });

  /**
   * A second OS process writing the same file. The child imports the TypeScript source through a
   * tiny loader that transpiles it with the project's own `typescript` package.
   */
  describe('SqliteStore: two processes on one file', () => {
    const root = resolve(import.meta.dirname, '../..');
    const req = createRequire(import.meta.url);

    function writeChild(): string {
      const tsUrl = pathToFileURL(req.resolve('typescript')).href;
      writeFileSync(
        join(dir, 'loader.mjs'),
        `import { readFile } from 'node:fs/promises';
  import { existsSync } from 'node:fs';
  import { fileURLToPath } from 'node:url';
  import ts from ${JSON.stringify(tsUrl)};
  export async function resolve(specifier, context, next) {
    if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL && context.parentURL.endsWith('.ts')) {
      const url = new URL(specifier.slice(0, -3) + '.ts', context.parentURL);
      if (existsSync(fileURLToPath(url))) return { url: url.href, shortCircuit: true };
    }
    return next(specifier, context);
  }
  export async function load(url, context, next) {
    if (!url.endsWith('.ts')) return next(url, context);
    const file = fileURLToPath(url);
    const out = ts.transpileModule(await readFile(file, 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    return { format: 'module', source: out.outputText, shortCircuit: true };
  }
  `,
      );
      writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister('./loader.mjs', import.meta.url);\n`);
      const storeUrl = pathToFileURL(join(root, 'src/core/store/sqlite.ts')).href;
      writeFileSync(
        join(dir, 'child.mjs'),
        `import { SqliteStore } from ${JSON.stringify(storeUrl)};
  const { path, threadId, claimThreads, batches } = JSON.parse(process.argv[2]);
  const store = new SqliteStore({ path });
  await store.init();
  process.stdout.write('ready\\n');
  await new Promise((r) => process.stdin.once('data', r));
  process.stdin.destroy();
  const claimed = [];
  for (let i = 0; i < batches; i++) {
    await store.appendMessages(threadId, [0, 1].map((k) => ({ id: 'child_' + i + '_' + k, role: 'user', author: 'child', content: 'c' + i + '.' + k, runId: null })));
    const t = claimThreads[claimThreads.length - 1 - (i % claimThreads.length)];
    const next = await store.claimNextRun(t, 'child', Date.now() + 60000, Date.now(), 'child_in_' + i);
    if (next) claimed.push(next.run.id);
  }
  await store.close();
  process.stdout.write(JSON.stringify({ claimed }) + '\\n');
  `,
      );
      return join(dir, 'child.mjs');
    }

    it('keeps seq gapless and one claim per thread while another process writes', async () => {
      const path = join(dir, 'shared.db');
      const s = await store(path);
      const { thread } = await seed(s);
      const claimThreads: string[] = [];
      for (let i = 0; i < 30; i++) {
        const t = await seed(s);
        await queue(s, t.conversation.id, t.thread.id);
        await queue(s, t.conversation.id, t.thread.id);
        claimThreads.push(t.thread.id);
      }
      const batches = 300;
      const child = spawn(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, writeChild(), JSON.stringify({ path, threadId: thread.id, claimThreads, batches })], {
        cwd: dir,
        env: { ...process.env, SWITCHBOARD_SQLITE_DRIVER: driver },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
      await new Promise<void>((res, rej) => {
        const timer = setInterval(() => {
          if (out.includes('ready')) {
            clearInterval(timer);
            res();
          }
        }, 5);
        void exited.then(() => {
          clearInterval(timer);
          rej(new Error(`child exited early: ${err}`));
        });
      });
      child.stdin.end('go\n');

      const claimed: string[] = [];
      for (let i = 0; i < batches; i++) {
        await s.appendMessages(thread.id, [msg(`p${i}.0`, { author: 'parent' }), msg(`p${i}.1`, { author: 'parent' })]);
        const next = await s.claimNextRun(claimThreads[i % claimThreads.length]!, 'parent', Date.now() + 60_000, Date.now(), `parent_in_${i}`);
        if (next) claimed.push(next.run.id);
        await new Promise((r) => setImmediate(r));
      }
      const killer = setTimeout(() => child.kill(), 20_000);
      expect(await exited, err).toBe(0);
      clearTimeout(killer);
      const childClaimed = (JSON.parse(out.trim().split('\n').pop()!) as { claimed: string[] }).claimed;

      const all = await s.listMessages(thread.id);
      expect(all.map((m) => m.seq)).toEqual(Array.from({ length: 4 * batches }, (_, i) => i + 1));
      for (const author of ['parent', 'child']) {
        const mine = all.filter((m) => m.author === author);
        expect(mine).toHaveLength(2 * batches);
        // each process's batches stay contiguous and in its own order
        for (let i = 0; i < batches; i++) expect(mine[2 * i + 1]!.seq).toBe(mine[2 * i]!.seq + 1);
        const prefix = author === 'parent' ? 'p' : 'c';
        expect(mine.map((m) => m.content)).toEqual(Array.from({ length: 2 * batches }, (_, i) => `${prefix}${Math.floor(i / 2)}.${i % 2}`));
      }

      expect(claimed.length + childClaimed.length).toBe(claimThreads.length);
      expect(new Set([...claimed, ...childClaimed]).size).toBe(claimThreads.length);
      for (const t of claimThreads) {
        const runs = await s.listRuns({ threadId: t });
        expect(runs.map((r) => r.status)).toEqual(['in_progress', 'queued']);
      }
    });
  });
});
