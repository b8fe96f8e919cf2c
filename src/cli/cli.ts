/**
 * The `switchboard` command. Each subcommand lives in its own module and is imported only when
 * used, so `switchboard mcp` starts without loading what `chat` needs.
 */
import { packageVersion } from '../index.js';
import { CliError, printError, splitCommand, wantsStack } from './common.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ default: (argv: string[]) => Promise<number> }> }> = {
  chat: { summary: 'talk with the proxy in the terminal (or pipe lines in)', load: () => import('./commands/chat.js') },
  run: { summary: 'send one message and print the final reply', load: () => import('./commands/run.js') },
  agents: { summary: 'list the agents, their roles, tools and models', load: () => import('./commands/agents.js') },
  doctor: { summary: 'check config, model providers, store and workspace (no model call)', load: () => import('./commands/doctor.js') },
  mcp: { summary: 'serve the agents as MCP tools on stdin/stdout (for Claude, IDEs, any MCP host)', load: () => import('./commands/mcp.js') },
  serve: { summary: 'HTTP server: MCP Streamable HTTP at /mcp, /healthz (127.0.0.1:3939 by default)', load: () => import('./commands/serve.js') },
  slack: { summary: 'the Slack bot over Socket Mode (--socket); over HTTP, serve mounts /slack/events', load: () => import('./commands/slack.js') },
  plan: { summary: 'plan a goal with the planner, approve each step, watch it run (--resume after a stop)', load: () => import('./commands/plan.js') },
  teams: { summary: 'Microsoft Teams: `teams package --app-id GUID` writes the app package to upload', load: () => import('./commands/teams.js') },
  approvals: { summary: 'list approvals waiting for a decision (plan steps, tool calls)', load: () => import('./commands/approvals.js') },
  approve: { summary: 'approve a pending approval by id', load: () => import('./commands/approve.js') },
  reject: { summary: 'reject a pending approval by id, with --feedback', load: () => import('./commands/reject.js') },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'Usage: switchboard <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Common options:',
    '  --config FILE         agents and providers (default: ./switchboard.yaml, or $SWITCHBOARD_CONFIG)',
    '  --conversation NAME   continue (or start) the named conversation',
    '  --verbose             more on stderr; a failure shows its stack trace',
    '(Common options may also come before the command: switchboard --config x.yaml run "hi".)',
    '',
    'Run `switchboard <command> --help` for the options of one command.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { command, args } = splitCommand(argv);
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    // Asked for, the usage is the answer (stdout); without a command it explains a usage error (stderr).
    (command ? process.stdout : process.stderr).write(usage() + '\n');
    return command ? 0 : 2;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(packageVersion() + '\n');
    return 0;
  }
  const entry = COMMANDS[command];
  if (!entry) throw new CliError(`unknown command "${command}". Commands: ${Object.keys(COMMANDS).join(', ')} (see switchboard --help)`, 2);
  const mod = await entry.load();
  return mod.default(args);
}

const argv = process.argv.slice(2);
let settled = false;
// A command that never settles and leaves nothing to wait for would otherwise end with status 0 and
// no output — as if it had done its job. Say so and fail instead.
process.once('beforeExit', () => {
  if (settled) return;
  process.stderr.write('switchboard: stopped before the command finished, with nothing left to wait for (a bug: please report it with the output of --verbose)\n');
  process.exitCode = 1;
});
// A failure outside the command's own promise (a callback that threw) is still one line, not Node's dump.
const crash = (err: unknown) => {
  settled = true;
  // The reader of our output went away (`switchboard agents | head -1`): nothing is left to tell anyone.
  if ((err as NodeJS.ErrnoException | null)?.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  process.exit(printError(err, { verbose: wantsStack(argv) }) || 1);
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);
main(argv).then(
  (code) => {
    settled = true;
    process.exitCode = code;
  },
  (err: unknown) => {
    settled = true;
    process.exitCode = printError(err, { verbose: wantsStack(argv) });
  },
);
