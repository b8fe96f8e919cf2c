/* global process */
/**
 * One Switchboard process (built from `dist/`) for the cross-process event tests: it opens the
 * store it is given (PostgreSQL schema or SQLite file), sends one message to a conversation,
 * reports `sent` (with the run id) and `answered`, and stays up until `close` arrives on stdin.
 *
 *   node events-child.mjs OPTIONS.json   # {"pg":{url,schema}} | {"sqlite":path}, fakeUrl, dir, key, text, engine, config
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createSwitchboard } from '../../dist/index.js';
import { PostgresStore } from '../../dist/core/store/postgres.js';
import { SqliteStore } from '../../dist/core/store/sqlite.js';

const opts = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const report = (event, data = {}) => process.stdout.write(JSON.stringify({ event, pid: process.pid, ...data }) + '\n');
process.on('unhandledRejection', (err) => {
  report('unhandled', { error: String(err?.stack ?? err) });
  process.exitCode = 1;
});

const store = opts.pg ? new PostgresStore({ url: opts.pg.url, schema: opts.pg.schema, pool: { max: 4 } }) : new SqliteStore({ path: opts.sqlite });
const sb = await createSwitchboard({
  config: { workspaceDir: `${opts.dir}/ws`, ...opts.config },
  store,
  env: { OPENAI_BASE_URL: opts.fakeUrl, OPENAI_API_KEY: 'sk-test-events-child', SWITCHBOARD_LOG_LEVEL: 'warn' },
  cwd: opts.dir,
  engine: opts.engine ?? {},
});
const principal = { surface: 'test', userId: 'alice' };
const conversation = await sb.conversation(opts.key, principal);
const run = await sb.send(conversation.id, { text: opts.text, from: principal });
report('sent', { runId: run.id, conversationId: conversation.id });
const ended = await sb.wait(run.id);
report('answered', { status: ended.status, reply: ended.reply });

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.trim() !== 'close') continue;
  await sb.close();
  report('closed');
  break;
}
lines.close();
