/**
 * The code agent's `run_code`: Python or Node code in the conversation's workspace, inside the
 * sandbox the config chooses (sandbox/), with a time limit, an output cap and no stdin.
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ToolError } from '../errors.js';
import { defineTool } from '../runs/tool.js';
import type { ToolResult } from '../runs/tool.js';
import { MAX_WRITE_BYTES, SNIPPET_PREFIX } from './files.js';
import { SandboxUnavailableError } from './sandbox/bubblewrap.js';
import type { SandboxedResult } from './sandbox/run.js';
import { DEFAULT_SANDBOX, runSandboxed } from './sandbox/run.js';
import { describeFsError, ensureWorkspace, openInWorkspace, resolveInWorkspace } from './workspace.js';

function formatStream(name: string, text: string, dropped: number, workspace: string): string {
  // Show workspace paths as relative ones: shorter tracebacks, and no server paths for the model.
  let body = text.split(workspace + '/').join('').split(workspace).join('.');
  if (body.endsWith('\n')) body = body.slice(0, -1);
  if (!body && !dropped) return `${name}: (empty)`;
  return `${name}:\n${body}${dropped ? `\n[truncated ${dropped} bytes]` : ''}`;
}

function describeEnd(r: SandboxedResult, timeoutMs: number): string[] {
  const head: string[] = [];
  if (r.timedOut) head.push(`timed out after ${timeoutMs} ms (process killed)`);
  else if (r.cancelled) head.push('cancelled (process killed)');
  if (r.exitCode !== null) head.push(`exit code: ${r.exitCode}`);
  else head.push(`exit code: none (killed by ${r.signal ?? 'signal'})`);
  // bwrap reports a command killed by a signal as 128 + the signal; 9 is SIGKILL, which nobody but
  // the kernel sends in there (our own kill is reported above): almost always memory.
  if (r.exitCode === 137 && !r.timedOut && !r.cancelled) head.push('(137: killed by SIGKILL, most likely out of memory)');
  head.push(`duration: ${r.durationMs} ms`);
  return head;
}

export const runCodeTool = defineTool({
  name: 'run_code',
  description:
    'Run Python 3 or Node.js code in the workspace (the working directory) and get the exit code, stdout and stderr. ' +
    'Give either `code` (a snippet) or `file` (a workspace path, e.g. written with write_file), plus optional `args`. ' +
    'The code runs in a sandbox that sees only the workspace and the language runtime: no stdin, usually no network, ' +
    'limits on time, memory, processes and output.',
  parameters: z
    .object({
      language: z.enum(['python', 'node']),
      code: z.string().min(1).optional().describe('Source code to run'),
      file: z.string().min(1).optional().describe('Workspace path of a script to run instead of `code`'),
      args: z.array(z.string()).max(100).optional().describe('Command-line arguments for the script'),
    })
    .refine((a) => (a.code === undefined) !== (a.file === undefined), {
      message: 'Give exactly one of `code` or `file`.',
    }),
  needsApproval: true,
  idempotent: false,
  annotations: { destructive: true, openWorld: true },
  async execute({ language, code, file, args }, ctx): Promise<ToolResult> {
    if (ctx.signal.aborted) return { content: 'Cancelled before the code ran.', isError: true };
    if (code !== undefined && Buffer.byteLength(code, 'utf8') > MAX_WRITE_BYTES) {
      throw new ToolError(`The code is larger than ${MAX_WRITE_BYTES} bytes; write it to files with write_file instead.`);
    }
    const root = await ensureWorkspace(ctx.workspaceDir);

    let script: string;
    let snippet: string | undefined;
    if (file !== undefined) {
      const abs = await resolveInWorkspace(root, file);
      // The same checks as read_file: a hard link could run another conversation's script.
      const { handle } = await openInWorkspace(abs, file, 'read').catch((err: unknown) => {
        if (err instanceof ToolError && /no such file/.test(err.message)) {
          throw new ToolError(`No file "${file}" in the workspace. Use list_files to see what exists.`);
        }
        throw err;
      });
      await handle.close();
      script = path.relative(root, abs).split(path.sep).join('/');
    } else {
      const ext = language === 'python' ? 'py' : 'js';
      snippet = `${SNIPPET_PREFIX}${randomBytes(4).toString('hex')}.${ext}`;
      await writeFile(path.join(root, snippet), code ?? '', 'utf8');
      script = snippet;
    }

    ctx.progress(`Running ${language} ${file ?? 'snippet'}…`);
    ctx.logger.debug('run_code start', { language, file, conversationId: ctx.conversationId });
    let result: SandboxedResult;
    try {
      result = await runSandboxed({
        language,
        script,
        args: args ?? [],
        workspace: root,
        sandbox: ctx.sandbox ?? DEFAULT_SANDBOX,
        agentNetwork: ctx.agent.network,
        timeoutMs: ctx.limits.codeTimeoutMs,
        outputBytes: ctx.limits.codeOutputBytes,
        signal: ctx.signal,
        logger: ctx.logger,
      });
    } catch (err) {
      if (err instanceof SandboxUnavailableError || err instanceof ToolError) throw err;
      throw new ToolError(`Cannot run ${language}: ${describeFsError(err)}.`);
    } finally {
      if (snippet) await rm(path.join(root, snippet), { force: true }).catch(() => undefined);
    }

    const content = [
      describeEnd(result, ctx.limits.codeTimeoutMs).join('\n'),
      formatStream('stdout', result.stdout, result.droppedStdout, result.workspaceShownAs),
      formatStream('stderr', result.stderr, result.droppedStderr, result.workspaceShownAs),
    ].join('\n');
    ctx.logger.debug('run_code done', { exitCode: result.exitCode, timedOut: result.timedOut, ms: result.durationMs });
    const failed = result.timedOut || result.cancelled || result.exitCode !== 0;
    return failed ? { content, isError: true } : { content };
  },
});
