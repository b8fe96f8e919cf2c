import { watchApprovals } from '../approval-watch.js';
import { CliError, cliPrincipal, conversationKey, openSwitchboard, parse } from '../common.js';
import { answers } from '../prompt.js';
import { attachProgress } from '../render.js';

const HELP = `Usage: switchboard run "message" [--conversation NAME] [--agent NAME] [--verbose]

Sends one message (to the proxy, or to --agent) and prints the final reply on stdout.
A new --conversation NAME starts a conversation; a known NAME continues it. Work an interrupted
process left in it runs first (this message queues behind it).
When work waits for an approval (code to run, say), stderr shows what waits, its id and the
commands that decide it; at a terminal you are asked inline. Decisions from another terminal count.
--verbose shows on stderr which agents work (delegations, tool calls).
Exit status: 0 answered, 1 the run failed (reason on stderr), 2 bad usage or configuration.`;

export default async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse('run', argv, { agent: { type: 'string' }, verbose: { type: 'boolean', short: 'v' } });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const text = positionals.join(' ').trim();
  if (!text) throw new CliError('Nothing to send. Usage: switchboard run "message" [--conversation NAME]', 2);
  const sb = await openSwitchboard({ config: values.config, verbose: values.verbose });
  const stops: (() => void)[] = [];
  try {
    if (values.agent !== undefined && !sb.agents.has(values.agent)) {
      throw new CliError(`Unknown agent "${values.agent}". Valid agents: ${sb.agents.names().join(', ')}.`, 2);
    }
    const principal = cliPrincipal();
    const conversation = await sb.conversation(conversationKey(values.conversation), principal);
    if (values.verbose) stops.push(attachProgress(sb, conversation.id, { out: process.stderr, streamReply: false }));
    const queued = await sb.send(conversation.id, { text, from: principal, agent: values.agent });
    // stdout is the reply: questions go to stderr. Piped stdin is never taken for answers.
    const ask = process.stdin.isTTY ? answers({ interactive: true, output: process.stderr }) : null;
    if (ask) stops.push(() => ask.close());
    stops.push(watchApprovals(sb, conversation.id, { out: process.stderr, ask, principal }).stop);
    const run = await sb.wait(queued.id);
    if (run.status !== 'completed') {
      process.stderr.write(`switchboard: ${run.agent} run ${run.status}: ${oneLine(run.error ?? run.status)}\n`);
      return 1;
    }
    process.stdout.write((run.reply ?? '') + '\n');
    return 0;
  } finally {
    for (const stop of stops.reverse()) stop();
    await sb.close();
  }
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
