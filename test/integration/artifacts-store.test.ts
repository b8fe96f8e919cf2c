import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll } from 'vitest';
import { postgresArtifactStore } from '../../src/core/store/postgres-artifacts.js';
import { PostgresStore } from '../../src/core/store/postgres.js';
import { sqliteArtifactStore } from '../../src/core/store/sqlite-artifacts.js';
import { SqliteStore } from '../../src/core/store/sqlite.js';
import type { ArtifactStore } from '../../src/core/artifacts/types.js';
import type { Store } from '../../src/core/store/types.js';
import { describeArtifactContract, type ArtifactsUnderTest } from '../support/artifact-contract.js';

/** The artifact store contract on SQLite and PostgreSQL, bytes in the database or in a folder. */

interface Dialect<S extends Store> {
  open(path: string): S;
  artifacts(store: S, opts: { dir?: string }): ArtifactStore;
}

/** A fresh database (`path` is a temp folder's file for SQLite), its first store and a way to open another replica. */
async function harness<S extends Store>(dialect: Dialect<S>, folder: boolean): Promise<ArtifactsUnderTest> {
  const tmp = mkdtempSync(join(tmpdir(), 'sb-artifacts-'));
  const dir = folder ? join(tmp, 'artifacts') : undefined;
  const path = join(tmp, 'sb.db');
  const stores: S[] = [];
  const open = async (d = dir) => {
    const store = dialect.open(path);
    stores.push(store);
    await store.init();
    const artifacts = dialect.artifacts(store, d ? { dir: d } : {});
    await artifacts.init();
    return { store, artifacts };
  };
  const first = await open();
  return {
    ...first,
    dir,
    second: async (opts) => (await open(opts?.dir ?? dir)).artifacts,
    async cleanup() {
      for (const s of stores) await s.close();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

const sqlite: Dialect<SqliteStore> = { open: (path) => new SqliteStore({ path }), artifacts: sqliteArtifactStore };
describeArtifactContract('SQLite artifacts, bytes in the database', () => harness(sqlite, false));
describeArtifactContract('SQLite artifacts, bytes in a folder', () => harness(sqlite, true));

const url = process.env.SWITCHBOARD_TEST_POSTGRES_URL;
if (!url) console.warn('artifacts-store: SWITCHBOARD_TEST_POSTGRES_URL is not set; skipping the PostgreSQL artifact store tests');
const schemas: string[] = [];

/** Each spec gets a schema of its own: the replicas it opens share it. */
function postgres(): Dialect<PostgresStore> {
  const schema = `sb_art_${randomBytes(5).toString('hex')}`;
  schemas.push(schema);
  return { open: () => new PostgresStore({ url: url!, schema, pool: { max: 3 } }), artifacts: postgresArtifactStore };
}

if (url) {
  describeArtifactContract('PostgreSQL artifacts, bytes in a BYTEA table', () => harness(postgres(), false));
  describeArtifactContract('PostgreSQL artifacts, bytes in a folder', () => harness(postgres(), true));
  afterAll(async () => {
    const admin = new pg.Pool({ connectionString: url, max: 1 });
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });
}
