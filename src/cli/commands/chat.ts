import { SwitchboardError } from '../../index.js';
import { watchApprovals } from '../approval-watch.js';
import { cliPrincipal, conversationKey, openSwitchboard, parse, printError } from '../common.js';
import { answers } from '../prompt.js';
import { attachProgress } from '../render.js';

const HELP = `Usage: switchboard chat [--conversation NAME] [--config FILE]

A conversation with the proxy in the terminal. Replies stream as they arrive, and each delegation
to a specialist is shown as it happens. When work waits for an approval (code to run, say), you are
asked right there; its id and the commands that decide it from another terminal are shown too.
With piped input, each line is a message (never an answer): approvals are shown and waited for,
and the command exits once every line has been answered. Type /exit (or Ctrl-D) to leave.`;

export default async function chat(argv: string[]): Promise<number> {
  const { values } = parse('chat', argv, {}, false);
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const sb = await openSwitchboard({ config: values.config });
  const interactive = Boolean(process.stdin.isTTY);
  const principal = cliPrincipal();
  const name = values.conversation;
  const stops: (() => void)[] = [];
  // One reader for both: the messages, and (at a terminal) the answers to approvals asked between them.
  const input = answers({ interactive });
  let failures = 0;
  try {
    const conversation = await sb.conversation(conversationKey(name), principal);
    if (interactive) {
      process.stdout.write(`Conversation ${name ?? conversation.key.slice(4)} — agents: ${sb.agents.names().join(', ')}. /exit to leave.\n`);
    }
    stops.push(attachProgress(sb, conversation.id, { out: process.stdout, streamReply: true }));
    // Replies normally stream in; one that did not (a resumed run) is printed whole.
    const streamed = new Set<string>();
    stops.push(
      sb.on(conversation.id, (e) => {
        if (e.type === 'text.delta' && e.depth === 0) streamed.add(e.runId);
      }),
    );
    // At the prompt, a question about an approval (one an interrupted run left, say) takes the input over.
    let reading: AbortController | null = null;
    const watch = watchApprovals(sb, conversation.id, {
      out: interactive ? process.stdout : process.stderr,
      ask: interactive ? input : null,
      principal,
      interrupt: () => reading?.abort(),
    });
    stops.push(watch.stop);
    // Lines are answered one after another, in order; piped input ends the session after the last answer.
    for (;;) {
      reading = new AbortController();
      const raw = await input.next(interactive ? 'you> ' : '', reading.signal);
      const interrupted = reading.signal.aborted;
      reading = null;
      if (interrupted) {
        await watch.settled();
        continue;
      }
      if (raw === null) break;
      const text = raw.trim();
      if (text === '/exit' || text === '/quit') break;
      if (!text) continue;
      let queued;
      try {
        queued = await sb.send(conversation.id, { text, from: principal });
      } catch (err) {
        // A message the engine refuses (too long, say) is reported; the next line still gets its turn.
        if (!(err instanceof SwitchboardError)) throw err;
        failures++;
        printError(err);
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
  } finally {
    for (const stop of stops.reverse()) stop();
    input.close();
    await sb.close();
  }
  return failures > 0 ? 1 : 0;
}
