/**
 * The code agent's tools: files in the conversation's workspace, and running Python or Node
 * code there with a time limit, an output cap, a minimal environment and no stdin.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ToolError } from '../errors.js';
import { defineTool } from '../runs/tool.js';
import type { ToolResult } from '../runs/tool.js';
import { ensureWorkspace, resolveInWorkspace, workspaceRelative } from './workspace.js';

/** Largest file `write_file` accepts. */
export const MAX_WRITE_BYTES = 1024 * 1024;
/** Most entries `list_files` shows. */
export const MAX_LIST_ENTRIES = 500;
/** Snippets passed as `code` are written to files with this prefix and removed after the run. */
export const SNIPPET_PREFIX = '.switchboard_snippet_';

/** The longest prefix of `buf` of at most `max` bytes that does not cut a UTF-8 character. */
function utf8Prefix(buf: Buffer, max: number): Buffer {
  if (buf.length <= max) return buf;
  let end = max;
  // Back off over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && end > max - 4 && ((buf[end] ?? 0) & 0xc0) === 0x80) end--;
  return buf.subarray(0, end);
}

/** `buf` without a UTF-8 character cut off at its end. */
function trimPartialUtf8(buf: Buffer): Buffer {
  for (let back = 1; back <= Math.min(4, buf.length); back++) {
    const byte = buf[buf.length - back] ?? 0;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead byte
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return need > back ? buf.subarray(0, buf.length - back) : buf;
  }
  return buf;
}

function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') return 'no such file or directory';
  if (e?.code === 'EISDIR') return 'it is a directory';
  if (e?.code === 'ENOTDIR') return 'a part of the path is not a directory';
  if (e?.code === 'EACCES' || e?.code === 'EPERM') return 'permission denied';
  return e?.message ?? String(err);
}

export const writeFileTool = defineTool({
  name: 'write_file',
  description:
    'Write a text file in the workspace (creates parent folders, overwrites an existing file). ' +
    `Paths are relative to the workspace. At most ${MAX_WRITE_BYTES} bytes.`,
  parameters: z.object({
    path: z.string().min(1).describe('File path relative to the workspace, e.g. "src/main.py"'),
    content: z.string().describe('The full text content of the file'),
  }),
  idempotent: true,
  annotations: { destructive: true },
  async execute({ path: relPath, content }, ctx) {
    const bytes = Buffer.byteLength(content, 'utf8');
    if (bytes > MAX_WRITE_BYTES) {
      throw new ToolError(`Content is ${bytes} bytes; write_file accepts at most ${MAX_WRITE_BYTES} bytes. Split it into smaller files.`);
    }
    const root = await ensureWorkspace(ctx.workspaceDir);
    const target = await resolveInWorkspace(root, relPath);
    if (target === root) throw new ToolError('Give a file path, not the workspace itself.');
    const existing = await stat(target).catch(() => undefined);
    if (existing?.isDirectory()) throw new ToolError(`"${relPath}" is a directory; give a file path.`);
    try {
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, content, 'utf8');
    } catch (err) {
      throw new ToolError(`Cannot write "${relPath}": ${describeError(err)}.`);
    }
    const shown = workspaceRelative(root, target);
    return `${existing ? 'Overwrote' : 'Wrote'} ${shown} (${bytes} bytes).`;
  },
});

export const readFileTool = defineTool({
  name: 'read_file',
  description: 'Read a text file from the workspace. Long files are truncated.',
  parameters: z.object({
    path: z.string().min(1).describe('File path relative to the workspace'),
  }),
  idempotent: true,
  annotations: { readOnly: true },
  async execute({ path: relPath }, ctx) {
    const root = await ensureWorkspace(ctx.workspaceDir);
    const target = await resolveInWorkspace(root, relPath);
    const info = await stat(target).catch((err: unknown) => {
      throw new ToolError(`Cannot read "${relPath}": ${describeError(err)}. Use list_files to see what exists.`);
    });
    if (info.isDirectory()) throw new ToolError(`"${relPath}" is a directory; use list_files to see its contents.`);
    if (!info.isFile()) throw new ToolError(`"${relPath}" is not a regular file.`);
    const cap = ctx.limits.codeOutputBytes;
    const want = Math.min(info.size, cap + 4);
    const buf = Buffer.alloc(want);
    let got = 0;
    const fh = await open(target, 'r');
    try {
      while (got < want) {
        const { bytesRead } = await fh.read(buf, got, want - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
    } finally {
      await fh.close();
    }
    const data = buf.subarray(0, got);
    if (data.subarray(0, 8000).includes(0)) {
      return `${workspaceRelative(root, target)} is a binary file (${info.size} bytes); it cannot be shown as text.`;
    }
    const shown = utf8Prefix(data, cap);
    const text = shown.toString('utf8');
    if (info.size > shown.length) return `${text}\n[truncated ${info.size - shown.length} bytes]`;
    return text;
  },
});

export const listFilesTool = defineTool({
  name: 'list_files',
  description: `List files in the workspace (recursively; at most ${MAX_LIST_ENTRIES} entries). Folders end with "/".`,
  parameters: z.object({
    path: z.string().optional().describe('Folder relative to the workspace; the whole workspace when omitted'),
  }),
  idempotent: true,
  annotations: { readOnly: true },
  async execute({ path: relPath }, ctx) {
    const root = await ensureWorkspace(ctx.workspaceDir);
    const start = await resolveInWorkspace(root, relPath ?? '.');
    const info = await stat(start).catch((err: unknown) => {
      throw new ToolError(`Cannot list "${relPath}": ${describeError(err)}.`);
    });
    if (!info.isDirectory()) return `${workspaceRelative(root, start)} (file, ${info.size} bytes)`;

    const lines: string[] = [];
    let more = false;
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        lines.push(`${workspaceRelative(root, dir)}/ (unreadable: ${describeError(err)})`);
        return;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const entry of entries) {
        if (entry.name.startsWith(SNIPPET_PREFIX)) continue;
        if (lines.length >= MAX_LIST_ENTRIES) {
          more = true;
          return;
        }
        const abs = path.join(dir, entry.name);
        const rel = workspaceRelative(root, abs);
        if (entry.isDirectory()) {
          lines.push(`${rel}/`);
          await walk(abs);
          if (more) return;
        } else if (entry.isSymbolicLink()) {
          lines.push(`${rel} (symlink)`);
        } else {
          const size = await stat(abs).then(
            (s) => s.size,
            () => undefined,
          );
          lines.push(size === undefined ? rel : `${rel} (${size} bytes)`);
        }
      }
    };
    await walk(start);
    const where = workspaceRelative(root, start);
    if (lines.length === 0) return where === '.' ? 'The workspace is empty.' : `${where}/ is empty.`;
    if (more) lines.push(`[listing stopped at ${MAX_LIST_ENTRIES} entries; list a subfolder to see more]`);
    return lines.join('\n');
  },
});

// ---------------------------------------------------------------------------------------------
// run_code

let pythonPath: Promise<string> | undefined;

/**
 * The real Python interpreter behind `python3`, found once with the parent's environment, so
 * version-manager shims (pyenv, asdf) still work when the child gets a minimal environment.
 */
function resolvePython(): Promise<string> {
  pythonPath ??= new Promise((resolve) => {
    execFile('python3', ['-c', 'import sys; print(sys.executable)'], { timeout: 10_000 }, (err, stdout) => {
      const exe = String(stdout ?? '').trim();
      resolve(!err && exe && path.isAbsolute(exe) ? exe : 'python3');
    });
  });
  return pythonPath;
}

/** Node flags that make a `.js` snippet run whether it is written as CommonJS or as an ES module. */
function nodeFlags(): string[] {
  const major = Number(process.versions.node.split('.')[0]);
  return major < 22 && process.allowedNodeEnvironmentFlags.has('--experimental-detect-module')
    ? ['--experimental-detect-module']
    : [];
}

/** The only environment the child sees: never the parent's secrets. */
function childEnv(workspace: string): Record<string, string> {
  return {
    PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin',
    HOME: workspace,
    LANG: process.env.LANG || 'C.UTF-8',
    PYTHONIOENCODING: 'utf-8',
    PYTHONUNBUFFERED: '1',
    PYTHONDONTWRITEBYTECODE: '1',
    NO_COLOR: '1',
  };
}

interface Collected {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  durationMs: number;
  stdout: string;
  stderr: string;
  droppedStdout: number;
  droppedStderr: number;
  timedOut: boolean;
  cancelled: boolean;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    if (process.platform === 'win32') process.kill(pid, 'SIGKILL');
    else process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function runProcess(
  command: string,
  argv: string[],
  opts: { cwd: string; env: Record<string, string>; timeoutMs: number; outputBytes: number; signal: AbortSignal },
): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let child;
    try {
      child = spawn(command, argv, {
        cwd: opts.cwd,
        env: opts.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: process.platform !== 'win32',
        windowsHide: true,
      });
    } catch (err) {
      reject(err);
      return;
    }
    const pid = child.pid;
    // Each stream keeps at most `cap` bytes (then stops collecting but keeps draining, so the
    // child never blocks on a full pipe); the two are cut to `cap` together at the end.
    const cap = opts.outputBytes;
    const out = { chunks: [] as Buffer[], kept: 0, dropped: 0 };
    const err = { chunks: [] as Buffer[], kept: 0, dropped: 0 };
    let timedOut = false;
    let cancelled = false;
    let settled = false;

    const take = (chunk: Buffer, into: typeof out): void => {
      const room = cap - into.kept;
      const keep = chunk.length <= room ? chunk : chunk.subarray(0, Math.max(0, room));
      if (keep.length) into.chunks.push(keep);
      into.kept += keep.length;
      into.dropped += chunk.length - keep.length;
    };
    child.stdout.on('data', (chunk: Buffer) => take(chunk, out));
    child.stderr.on('data', (chunk: Buffer) => take(chunk, err));

    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(pid);
    }, opts.timeoutMs);
    const onAbort = () => {
      cancelled = true;
      killGroup(pid);
    };
    opts.signal.addEventListener('abort', onAbort, { once: true });

    const finish = () => {
      clearTimeout(timer);
      opts.signal.removeEventListener('abort', onAbort);
    };

    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      finish();
      killGroup(pid);
      reject(e);
    });
    // The interpreter has exited: anything it left running in its group goes too, so that
    // a background grandchild cannot hold the pipes open (or outlive the tool call).
    child.on('exit', () => killGroup(pid));
    child.on('close', (exitCode, signal) => {
      if (settled) return;
      settled = true;
      finish();
      // Combined cap: stderr (where the error is) keeps at least half when both overflow.
      const errShare = Math.min(err.kept, Math.max(Math.floor(cap / 2), cap - out.kept));
      const outShare = Math.min(out.kept, cap - errShare);
      const decode = (s: typeof out, share: number) => {
        const all = Buffer.concat(s.chunks);
        let buf: Buffer = all.subarray(0, share);
        const cut = s.dropped > 0 || buf.length < all.length;
        // When the cap cut the stream, do not end on half a character.
        if (cut) buf = trimPartialUtf8(buf);
        return { text: buf.toString('utf8'), dropped: s.dropped + all.length - buf.length };
      };
      const o = decode(out, outShare);
      const e = decode(err, errShare);
      resolve({
        exitCode,
        signal,
        durationMs: Math.round(performance.now() - started),
        stdout: o.text,
        stderr: e.text,
        droppedStdout: o.dropped,
        droppedStderr: e.dropped,
        timedOut,
        cancelled,
      });
    });
    if (opts.signal.aborted) onAbort();
  });
}

function formatStream(name: string, text: string, dropped: number, workspace: string): string {
  // Show workspace paths as relative ones: shorter tracebacks, and no server paths for the model.
  let body = text.split(workspace + path.sep).join('').split(workspace).join('.');
  if (body.endsWith('\n')) body = body.slice(0, -1);
  if (!body && !dropped) return `${name}: (empty)`;
  return `${name}:\n${body}${dropped ? `\n[truncated ${dropped} bytes]` : ''}`;
}

export const runCodeTool = defineTool({
  name: 'run_code',
  description:
    'Run Python 3 or Node.js code in the workspace (the working directory) and get the exit code, stdout and stderr. ' +
    'Give either `code` (a snippet) or `file` (a workspace path, e.g. written with write_file), plus optional `args`. ' +
    'There is no stdin, a wall-clock time limit and an output cap; no network credentials are available.',
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
      const info = await stat(abs).catch(() => undefined);
      if (!info) throw new ToolError(`No file "${file}" in the workspace. Use list_files to see what exists.`);
      if (!info.isFile()) throw new ToolError(`"${file}" is not a file.`);
      script = path.relative(root, abs);
    } else {
      const ext = language === 'python' ? 'py' : 'js';
      snippet = `${SNIPPET_PREFIX}${randomBytes(4).toString('hex')}.${ext}`;
      await writeFile(path.join(root, snippet), code ?? '', 'utf8');
      script = snippet;
    }
    // A relative script path keeps tracebacks short; "./" stops a name like "-x" being read as a flag.
    const scriptArg = script.startsWith('-') ? `.${path.sep}${script}` : script;

    const command = language === 'python' ? await resolvePython() : process.execPath;
    const argv = language === 'python' ? [scriptArg, ...(args ?? [])] : [...nodeFlags(), scriptArg, ...(args ?? [])];
    ctx.progress(`Running ${language} ${file ?? 'snippet'}…`);
    ctx.logger.debug('run_code start', { language, file, conversationId: ctx.conversationId });

    let result: Collected;
    try {
      result = await runProcess(command, argv, {
        cwd: root,
        env: childEnv(root),
        timeoutMs: ctx.limits.codeTimeoutMs,
        outputBytes: ctx.limits.codeOutputBytes,
        signal: ctx.signal,
      });
    } catch (err) {
      const what = language === 'python' ? 'python3' : 'node';
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ToolError(`Cannot run ${language}: ${what} is not installed on this machine.`);
      }
      throw new ToolError(`Cannot run ${language}: ${describeError(err)}.`);
    } finally {
      if (snippet) await rm(path.join(root, snippet), { force: true }).catch(() => undefined);
    }

    const head: string[] = [];
    if (result.timedOut) head.push(`timed out after ${ctx.limits.codeTimeoutMs} ms (process killed)`);
    else if (result.cancelled) head.push('cancelled (process killed)');
    if (result.exitCode !== null) head.push(`exit code: ${result.exitCode}`);
    else head.push(`exit code: none (killed by ${result.signal ?? 'signal'})`);
    head.push(`duration: ${result.durationMs} ms`);
    const content = [
      head.join('\n'),
      formatStream('stdout', result.stdout, result.droppedStdout, root),
      formatStream('stderr', result.stderr, result.droppedStderr, root),
    ].join('\n');
    ctx.logger.debug('run_code done', { exitCode: result.exitCode, timedOut: result.timedOut, ms: result.durationMs });
    const failed = result.timedOut || result.cancelled || result.exitCode !== 0;
    return failed ? { content, isError: true } : { content };
  },
});

/** The code agent's tools. */
export const codeTools = [writeFileTool, readFileTool, listFilesTool, runCodeTool] as const;
