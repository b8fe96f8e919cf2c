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
import { describeArtifactContract, type ArtifactsUnderTest } from '../support/artifact-contract.js';

/** The artifact store contract on SQLite and PostgreSQL, bytes in the database or in a folder. */

async function sqlite(folder: boolean): Promise<ArtifactsUnderTest> {
  const tmp = mkdtempSync(join(tmpdir(), 'sb-artifacts-'));
  const dir = folder ? join(tmp, 'artifacts') : undefined;
  const path = join(tmp, 'sb.db');
  const stores: SqliteStore[] = [];
  const open = async (d = dir) => {
    const store = new SqliteStore({ path });
    stores.push(store);
    await store.init();
    const artifacts = sqliteArtifactStore(store, d ? { dir: d } : {});
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

describeArtifactContract('SQLite artifacts, bytes in the database', () => sqlite(false));
describeArtifactContract('SQLite artifacts, bytes in a folder', () => sqlite(true));

const url = process.env.SWITCHBOARD_TEST_POSTGRES_URL;
if (!url) console.warn('artifacts-store: SWITCHBOARD_TEST_POSTGRES_URL is not set; skipping the PostgreSQL artifact store tests');
const schemas: string[] = [];

async function postgres(folder: boolean): Promise<ArtifactsUnderTest> {
  const schema = `sb_art_${randomBytes(5).toString('hex')}`;
  schemas.push(schema);
  const tmp = mkdtempSync(join(tmpdir(), 'sb-artifacts-'));
  const dir = folder ? join(tmp, 'artifacts') : undefined;
  const stores: PostgresStore[] = [];
  const open = async (d = dir) => {
    const store = new PostgresStore({ url: url!, schema, pool: { max: 3 } });
    stores.push(store);
    await store.init();
    const artifacts = postgresArtifactStore(store, d ? { dir: d } : {});
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

if (url) {
  describeArtifactContract('PostgreSQL artifacts, bytes in a BYTEA table', () => postgres(false));
  describeArtifactContract('PostgreSQL artifacts, bytes in a folder', () => postgres(true));
  afterAll(async () => {
    const admin = new pg.Pool({ connectionString: url, max: 1 });
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });
}
