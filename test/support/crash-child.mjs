/* global process, setTimeout */
/**
 * A Switchboard process for the crash tests, built from `dist/` like a deployment: it sends one
 * message (or resumes what a killed predecessor left) and runs until its run ends — unless the test
 * kills it with SIGKILL first. It reports on stdout, one JSON object a line.
 *
 *   node crash-child.mjs '{"action":"send","dir":...,"fakeUrl":...,"config":{...},"conversationKey":...,"text":...}'
 *   node crash-child.mjs '{"action":"resume","dir":...,"fakeUrl":...,"config":{...},"runId":...}'
 */
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { createSwitchboard, defineTool } from '../../dist/index.js';

const opts = JSON.parse(process.argv[2]);
const report = (event, data = {}) => process.stdout.write(JSON.stringify({ event, pid: process.pid, ...data }) + '\n');

// An idempotent tool that logs each start, then waits for the test's go-ahead file.
const slowEcho = defineTool({
  name: 'slow_echo',
  description: 'Echoes the text, once allowed to.',
  parameters: z.object({ text: z.string() }),
  idempotent: true,
  async execute({ text }, ctx) {
    appendFileSync(join(opts.dir, 'slow_echo.log'), `${process.pid}\n`);
    while (!existsSync(join(opts.dir, 'release'))) {
      ctx.signal.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return `echo: ${text}`;
  },
});

const sb = await createSwitchboard({
  config: opts.config,
  env: { OPENAI_BASE_URL: opts.fakeUrl, OPENAI_API_KEY: 'sk-test-crash' },
  cwd: opts.dir,
  tools: [slowEcho],
  engine: { pollMs: 20 },
});
report('ready');
const principal = { surface: 'cli', userId: 'alice' };
let runId = opts.runId;
if (opts.action === 'send') {
  const conversation = await sb.conversation(opts.conversationKey, principal);
  const run = await sb.send(conversation.id, { text: opts.text, from: principal, agent: opts.agent });
  runId = run.id;
  report('queued', { runId, conversationId: conversation.id });
}
const ended = await sb.wait(runId);
report('done', { run: ended });
await sb.close();
