/* global process, AbortController */
/**
 * A stand-in engine for the sandbox tests, built from `dist/` like a deployment: it runs one
 * endless `run_code` call and never returns — until the test kills it with SIGKILL.
 *
 *   node sandbox-engine.mjs <workspace> <marker>
 */
import { AgentSpecSchema, builtinTools, silentLogger } from '../../dist/index.js';

const [workspace, marker] = process.argv.slice(2);
const runCode = builtinTools.find((t) => t.name === 'run_code');
const never = new AbortController();
await runCode.execute(
  { language: 'python', code: 'open("started.txt", "w").write("yes")\nwhile True: pass', args: [marker] },
  {
    conversationId: 'conv_engine',
    runId: 'run_1',
    threadId: 'thread_1',
    agent: AgentSpecSchema.parse({ name: 'code_agent', description: 'Runs code.' }),
    toolCallId: 'call_1',
    workspaceDir: workspace,
    signal: never.signal,
    model: {},
    logger: silentLogger,
    limits: { codeTimeoutMs: 600_000, codeOutputBytes: 16_384 },
    progress() {},
  },
);
process.stdout.write('run_code returned, which it should not have\n');
