import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { findConfigFile, loadConfigFile, parseConfig } from '../../index.js';
import { parse } from '../common.js';

const help = (self: string) => `Usage: switchboard mcp [--config FILE]

Runs Switchboard as an MCP server on stdin/stdout, for Claude Desktop, Claude Code, VS Code, Cursor
and any MCP host. This installation, as a host starts it:

  claude mcp add switchboard -- ${process.execPath} ${self} mcp

(with "command": "${process.execPath}" and "args": ["${self}", "mcp"] in a host's JSON config).

Every specialist agent is a tool (ask_<agent>), plus ask_team for the whole team, get_run and
cancel_run for long work, and with a planner: plan_task, get_plan, approve_step, reject_step,
cancel_plan, decide_approval. Resources: switchboard://agents, switchboard://conversations/{id},
switchboard://plans/{id}. Logs go to stderr (SWITCHBOARD_LOG_LEVEL=debug for more); stdout carries
only the protocol. The principal is "mcp:stdio" (or mcp:$SWITCHBOARD_MCP_USER).
SWITCHBOARD_MCP_PROGRESS_MS sets the progress heartbeat (default 5000).

Hosts start servers in a folder of their own, so relative paths in the config (the store, the
workspaces) are taken from the config file's folder; without a config file, from the working
directory when it is writable, else from your home folder (~/.switchboard/).`;

export default async function mcp(argv: string[]): Promise<number> {
  const { values } = parse('mcp', argv, {}, false);
  if (values.help) {
    process.stdout.write(help(ownPath()) + '\n');
    return 0;
  }
  // Not a model check here: the host should see the tools even before a key is set; calls say what is missing.
  const configFile = findConfigFile({ path: values.config, env: process.env });
  const config = configFile ? loadConfigFile(configFile, process.env) : parseConfig({});
  // Not the mcp/index.js barrel: it loads the HTTP side and the SDK, which the stdio fast path defers.
  const [{ serveStdio }, { stdioBaseDir }] = await Promise.all([import('../../mcp/stdio.js'), import('../../mcp/context.js')]);
  const server = serveStdio({ config, cwd: stdioBaseDir({ configFile, cwd: process.cwd(), home: homedir() }) });
  // SIGTERM / SIGINT end the session as stdin closing does: calls in flight answer with their run_id.
  const stop = () => void server.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await server.closed;
  // Every answer is written and the engine (its store) is closed; runs still working are in the store
  // for the next process. What may still hold the event loop — the SDK still loading in the background,
  // a keep-alive socket of the model client — serves nobody now, and hosts restart servers often: exit.
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(0);
}

/** The path of the CLI being run (through an `npm link` symlink too), for the host recipe in the help. */
function ownPath(): string {
  const arg = process.argv[1] ?? 'dist/cli/main.js';
  try {
    return realpathSync(arg);
  } catch {
    return arg;
  }
}

function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => (stream.writableEnded || stream.destroyed ? resolve() : stream.write('', () => resolve())));
}
