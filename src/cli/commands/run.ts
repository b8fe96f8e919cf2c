import { CliError, cliPrincipal, conversationKey, openSwitchboard, parse } from '../common.js';
import { attachProgress } from '../render.js';

const HELP = `Usage: switchboard run "message" [--conversation NAME] [--agent NAME] [--verbose]

Sends one message (to the proxy, or to --agent) and prints the final reply on stdout.
A new --conversation NAME starts a conversation; a known NAME continues it.
--verbose shows on stderr which agents work (delegations, tool calls).
Exit status: 0 answered, 1 the run failed (reason on stderr), 2 bad usage or configuration.`;

export default async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { agent: { type: 'string' }, verbose: { type: 'boolean', short: 'v' } });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const text = positionals.join(' ').trim();
  if (!text) throw new CliError('Nothing to send. Usage: switchboard run "message" [--conversation NAME]', 2);
  const sb = await openSwitchboard({ config: values.config, verbose: values.verbose });
  try {
    if (values.agent !== undefined && !sb.agents.has(values.agent)) {
      throw new CliError(`Unknown agent "${values.agent}". Valid agents: ${sb.agents.names().join(', ')}.`, 2);
    }
    const principal = cliPrincipal();
    const conversation = await sb.conversation(conversationKey(values.conversation), principal);
    const detach = values.verbose ? attachProgress(sb, conversation.id, { out: process.stderr, streamReply: false }) : () => {};
    const queued = await sb.send(conversation.id, { text, from: principal, agent: values.agent });
    const run = await sb.wait(queued.id);
    detach();
    if (run.status !== 'completed') {
      process.stderr.write(`switchboard: ${run.agent} run ${run.status}: ${oneLine(run.error ?? run.status)}\n`);
      return 1;
    }
    process.stdout.write((run.reply ?? '') + '\n');
    return 0;
  } finally {
    await sb.close();
  }
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
