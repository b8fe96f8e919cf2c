import { createInterface } from 'node:readline';
import { SwitchboardError } from '../../core/errors.js';
import { cliPrincipal, conversationKey, openSwitchboard, parse, printError } from '../common.js';
import { attachProgress } from '../render.js';

const HELP = `Usage: switchboard chat [--conversation NAME] [--config FILE]

A conversation with the proxy in the terminal. Replies stream as they arrive, and each delegation
to a specialist is shown as it happens. With piped input, each line is a message; the command exits
once every line has been answered. Type /exit (or Ctrl-D) to leave.`;

export default async function chat(argv: string[]): Promise<number> {
  const { values } = parse(argv, {}, false);
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const sb = await openSwitchboard({ config: values.config });
  const interactive = Boolean(process.stdin.isTTY);
  const principal = cliPrincipal();
  const name = values.conversation;
  const conversation = await sb.conversation(conversationKey(name), principal);
  if (interactive) {
    process.stdout.write(`Conversation ${name ?? conversation.key.slice(4)} — agents: ${sb.agents.names().join(', ')}. /exit to leave.\n`);
  }
  const stop = attachProgress(sb, conversation.id, { out: process.stdout, streamReply: true });
  // Replies normally stream in; one that did not (a resumed run) is printed whole.
  const streamed = new Set<string>();
  const offStreamed = sb.on(conversation.id, (e) => {
    if (e.type === 'text.delta' && e.depth === 0) streamed.add(e.runId);
  });
  const rl = createInterface({ input: process.stdin, terminal: interactive });
  let failures = 0;
  try {
    if (interactive) rl.setPrompt('you> ');
    if (interactive) rl.prompt();
    // Lines are answered one after another, in order; piped input ends the session after the last answer.
    for await (const raw of rl) {
      const text = raw.trim();
      if (text === '/exit' || text === '/quit') break;
      if (text) {
        let queued;
        try {
          queued = await sb.send(conversation.id, { text, from: principal });
        } catch (err) {
          // A message the engine refuses (too long, say) is reported; the next line still gets its turn.
          if (!(err instanceof SwitchboardError)) throw err;
          failures++;
          printError(err);
          if (interactive) rl.prompt();
          continue;
        }
        const run = await sb.wait(queued.id);
        if (run.status !== 'completed') {
          failures++;
          process.stderr.write(`switchboard: ${run.agent} run ${run.status}: ${(run.error ?? '').replace(/\s+/g, ' ').trim()}\n`);
        } else if (!streamed.has(run.id)) {
          process.stdout.write(`${run.agent}> ${run.reply ?? ''}\n`);
        }
      }
      if (interactive) rl.prompt();
    }
  } finally {
    stop();
    offStreamed();
    rl.close();
    await sb.close();
  }
  return failures > 0 ? 1 : 0;
}
