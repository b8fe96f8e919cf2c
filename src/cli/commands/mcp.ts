import { homedir } from 'node:os';
import { findConfigFile, loadConfigFile, parseConfig } from '../../core/agents/load.js';
import { parse } from '../common.js';

const HELP = `Usage: switchboard mcp [--config FILE]

Runs Switchboard as an MCP server on stdin/stdout, for Claude Desktop, Claude Code, VS Code, Cursor
and any MCP host:

  claude mcp add switchboard -- npx -y switchboard mcp

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
    process.stdout.write(HELP + '\n');
    return 0;
  }
  // Not a model check here: the host should see the tools even before a key is set; calls say what is missing.
  const configFile = findConfigFile({ path: values.config, env: process.env });
  const config = configFile ? loadConfigFile(configFile, process.env) : parseConfig({});
  // Not the mcp/index.js barrel: it loads the HTTP side and the SDK, which the stdio fast path defers.
  const [{ serveStdio }, { stdioBaseDir }] = await Promise.all([import('../../mcp/stdio.js'), import('../../mcp/context.js')]);
  const server = serveStdio({ config, cwd: stdioBaseDir({ configFile, cwd: process.cwd(), home: homedir() }) });
  const stop = () => void server.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await server.closed;
  // Anything still holding the event loop (a stuck socket) must not keep a host waiting for the exit.
  setTimeout(() => process.exit(process.exitCode ?? 0), 2_000).unref();
  return 0;
}
