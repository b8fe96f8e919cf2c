/* global process */
/**
 * One Switchboard replica on a PostgreSQL schema, built from `dist/` like a deployment, for the
 * multi-process takeover test and the `load-replicas` benchmark. It sends the messages of the
 * conversations it was given (each conversation's messages queued in order, as a bot receiving them
 * would), waits for their answers like that bot, and stays up — taking over what dead replicas left —
 * until the parent writes `close` on stdin. It reports on stdout, one JSON object a line:
 * `ready`, `sent`, `answered` (every run it sent has ended), `closed` (with its peak RSS), and
 * `unhandled` for any unhandled rejection or exception (which also makes it exit 1).
 *
 *   node replica-child.mjs OPTIONS.json   # {"url":...,"schema":...,"fakeUrl":...,"dir":...,"engine":{...},"conversations":[{"key":...,"texts":[...]}]}
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createSwitchboard } from '../../dist/index.js';
import { PostgresStore } from '../../dist/core/store/postgres.js';

const opts = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const report = (event, data = {}) => process.stdout.write(JSON.stringify({ event, pid: process.pid, ...data }) + '\n');
const describe = (err) => (err instanceof Error ? (err.stack ?? err.message) : String(err));
process.on('unhandledRejection', (err) => {
  report('unhandled', { error: describe(err) });
  process.exitCode = 1;
});
process.on('uncaughtException', (err) => {
  report('unhandled', { error: describe(err) });
  process.exit(1);
});

const store = new PostgresStore({ url: opts.url, schema: opts.schema, pool: { max: opts.poolMax ?? 10 } });
const sb = await createSwitchboard({
  config: opts.config ?? {},
  store,
  env: { OPENAI_BASE_URL: opts.fakeUrl, OPENAI_API_KEY: 'sk-test-replicas', SWITCHBOARD_LOG_LEVEL: opts.logLevel ?? 'info' },
  cwd: opts.dir,
  engine: opts.engine ?? {},
});
report('ready');

const principal = { surface: 'test', userId: 'replicas' };
const runs = await Promise.all(
  (opts.conversations ?? []).map(async ({ key, texts }) => {
    const conversation = await sb.conversation(key, principal);
    const ids = [];
    for (const text of texts) ids.push((await sb.send(conversation.id, { text, from: principal })).id);
    return ids;
  }),
);
report('sent', { runs: runs.flat().length });
const ended = await Promise.all(runs.flat().map((id) => sb.wait(id)));
report('answered', { failed: ended.filter((r) => r.status !== 'completed').length });

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.trim() !== 'close') continue;
  await sb.close();
  report('closed', { maxRssBytes: process.resourceUsage().maxRSS * 1024 });
  break;
}
lines.close();
