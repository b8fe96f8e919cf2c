import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { link, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentSpecSchema } from '../../src/core/agents/spec.js';
import { ToolError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import type { ModelClient } from '../../src/core/model/types.js';
import type { ToolContext, ToolDefinition, ToolResult } from '../../src/core/runs/tool.js';
import { listFilesTool, readFileTool, runCodeTool, writeFileTool } from '../../src/core/tools/code.js';
import { builtinToolNames, builtinTools } from '../../src/core/tools/index.js';
import { resolveInWorkspace } from '../../src/core/tools/workspace.js';
import { eventuallyNoneWith, processesWith, sandboxUnavailableReason, until } from '../support/sandbox.js';

// These tests cover run_code itself; test/unit/sandbox.test.ts covers the boundary. Without a
// working bubblewrap they still run, explicitly unsandboxed, as a config with `sandbox: none` would.
const noSandbox = await sandboxUnavailableReason();
if (noSandbox) console.warn(`tools-code: running run_code unsandboxed (sandbox: none): ${noSandbox}`);
const sandbox: ToolContext['sandbox'] = noSandbox ? { type: 'none', network: false, memoryMb: 1024, maxProcesses: 128 } : undefined;

const noModel: ModelClient = {
  chat() {
    throw new Error('the code tools must not call the model');
  },
  generateImage() {
    throw new Error('the code tools must not call the model');
  },
};

let base: string;
let workspace: string;

function makeCtx(opts: { limits?: Partial<ToolContext['limits']>; signal?: AbortSignal; progress?: string[] } = {}): ToolContext {
  return {
    conversationId: 'conv_1',
    runId: 'run_1',
    threadId: 'thread_1',
    agent: AgentSpecSchema.parse({ name: 'code_agent', description: 'Writes and runs code.' }),
    toolCallId: 'call_1',
    workspaceDir: workspace,
    signal: opts.signal ?? new AbortController().signal,
    model: noModel,
    logger: silentLogger,
    limits: { codeTimeoutMs: 20_000, codeOutputBytes: 16_384, ...opts.limits },
    sandbox,
    progress: (m) => opts.progress?.push(m),
  };
}

/** Validates the arguments as the run loop would, then runs the tool; results normalised. */
async function call(tool: ToolDefinition, args: unknown, ctx: ToolContext = makeCtx()): Promise<ToolResult> {
  const parsed = tool.parameters.parse(args);
  const out = await tool.execute(parsed, ctx);
  return typeof out === 'string' ? { content: out } : out;
}

async function callError(tool: ToolDefinition, args: unknown, ctx: ToolContext = makeCtx()): Promise<ToolError> {
  try {
    await call(tool, args, ctx);
  } catch (err) {
    expect(err).toBeInstanceOf(ToolError);
    return err as ToolError;
  }
  throw new Error('expected a ToolError');
}

beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'sb-tools-'));
  // Not created yet: the tools create it on first use.
  workspace = path.join(base, 'workspaces', 'conv_1');
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('workspace files', () => {
  it('writes, reads and lists files (creating the workspace and parent folders)', async () => {
    const w = await call(writeFileTool, { path: 'src/app/main.py', content: 'print("hi")\n' });
    expect(w.content).toContain('src/app/main.py');
    expect(await readFile(path.join(workspace, 'src/app/main.py'), 'utf8')).toBe('print("hi")\n');

    await call(writeFileTool, { path: 'notes.txt', content: 'héllo wörld' });
    const r = await call(readFileTool, { path: 'notes.txt' });
    expect(r.content).toBe('héllo wörld');

    const over = await call(writeFileTool, { path: 'notes.txt', content: 'second' });
    expect(over.content).toMatch(/Overwrote/);
    expect((await call(readFileTool, { path: './notes.txt' })).content).toBe('second');

    const l = await call(listFilesTool, {});
    expect(l.content.split('\n')).toEqual(['notes.txt (6 bytes)', 'src/', 'src/app/', 'src/app/main.py (12 bytes)']);
    const sub = await call(listFilesTool, { path: 'src/app' });
    expect(sub.content).toBe('src/app/main.py (12 bytes)');
  });

  it('says so when the workspace is empty, and reports missing files as tool errors', async () => {
    expect((await call(listFilesTool, {})).content).toMatch(/empty/);
    expect((await callError(readFileTool, { path: 'nope.txt' })).message).toMatch(/no such file/);
    await mkdir(path.join(workspace, 'dir'), { recursive: true });
    expect((await callError(readFileTool, { path: 'dir' })).message).toMatch(/directory/);
    expect((await callError(writeFileTool, { path: 'dir', content: 'x' })).message).toMatch(/directory/);
  });

  it('truncates long files at the output limit', async () => {
    await call(writeFileTool, { path: 'big.txt', content: 'a'.repeat(5000) });
    const r = await call(readFileTool, { path: 'big.txt' }, makeCtx({ limits: { codeOutputBytes: 1000 } }));
    expect(r.content.startsWith('a'.repeat(1000))).toBe(true);
    expect(r.content).toContain('[truncated 4000 bytes]');
  });

  it('refuses content over the size cap', async () => {
    const err = await callError(writeFileTool, { path: 'huge.txt', content: 'x'.repeat(1024 * 1024 + 1) });
    expect(err.message).toMatch(/at most/);
    expect(existsSync(path.join(workspace, 'huge.txt'))).toBe(false);
  });

  it('bounds the listing', async () => {
    await mkdir(workspace, { recursive: true });
    await Promise.all(Array.from({ length: 520 }, (_, i) => writeFile(path.join(workspace, `f${String(i).padStart(3, '0')}.txt`), '')));
    const l = await call(listFilesTool, {});
    const lines = l.content.split('\n');
    expect(lines.length).toBe(501);
    expect(lines.at(-1)).toMatch(/stopped at 500 entries/);
  });
});

describe('path rules', () => {
  it('refuses .. escapes and absolute paths', async () => {
    for (const p of ['../x', 'a/../../x', '/etc/passwd', '..']) {
      const err = await callError(readFileTool, { path: p });
      expect(err.message).toMatch(/Refused path/);
      expect(err.message).toMatch(/relative to the workspace/);
    }
    const w = await callError(writeFileTool, { path: '../escaped.txt', content: 'x' });
    expect(w.message).toMatch(/outside the workspace/);
    expect(existsSync(path.join(base, 'workspaces', 'escaped.txt'))).toBe(false);
    await expect(resolveInWorkspace(workspace, '/etc/passwd')).rejects.toBeInstanceOf(ToolError);
    // A ".." inside the workspace is fine.
    expect(await resolveInWorkspace(workspace, 'a/../b.txt')).toBe(path.join(await resolveInWorkspace(workspace, '.'), 'b.txt'));
  });

  it('refuses symlinks that lead out of the workspace', async () => {
    const outside = path.join(base, 'outside');
    await mkdir(outside, { recursive: true });
    await writeFile(path.join(outside, 'secret.txt'), 'top secret');
    await mkdir(workspace, { recursive: true });
    await symlink(outside, path.join(workspace, 'link'));
    await symlink(path.join(outside, 'secret.txt'), path.join(workspace, 'secret-link.txt'));
    await symlink(path.join(outside, 'not-there.txt'), path.join(workspace, 'dangling.txt'));

    expect((await callError(readFileTool, { path: 'link/secret.txt' })).message).toMatch(/symlink/);
    expect((await callError(readFileTool, { path: 'secret-link.txt' })).message).toMatch(/symlink/);
    expect((await callError(writeFileTool, { path: 'link/new.txt', content: 'x' })).message).toMatch(/symlink/);
    expect((await callError(writeFileTool, { path: 'dangling.txt', content: 'x' })).message).toMatch(/symlink/);
    expect((await callError(listFilesTool, { path: 'link' })).message).toMatch(/symlink/);
    expect(existsSync(path.join(outside, 'new.txt'))).toBe(false);
    expect(existsSync(path.join(outside, 'not-there.txt'))).toBe(false);

    // A symlink that stays inside is fine.
    await writeFile(path.join(workspace, 'real.txt'), 'inside');
    await symlink('real.txt', path.join(workspace, 'alias.txt'));
    expect((await call(readFileTool, { path: 'alias.txt' })).content).toBe('inside');
  });

  it('refuses hard links: read_file, write_file and run_code will not use them, list_files hides their size', async () => {
    // Another conversation's file, hard-linked into this workspace (as unsandboxed code could do).
    const other = path.join(base, 'workspaces', 'conv_2');
    await mkdir(other, { recursive: true });
    await writeFile(path.join(other, 'secret.txt'), 'other conversation secret');
    await mkdir(workspace, { recursive: true });
    await link(path.join(other, 'secret.txt'), path.join(workspace, 'stolen.txt'));

    const read = await callError(readFileTool, { path: 'stolen.txt' });
    expect(read.message).toMatch(/hard link/);
    expect(read.message).not.toContain('other conversation secret');
    expect((await callError(writeFileTool, { path: 'stolen.txt', content: 'overwritten' })).message).toMatch(/hard link/);
    expect(await readFile(path.join(other, 'secret.txt'), 'utf8')).toBe('other conversation secret');
    expect((await call(listFilesTool, {})).content).toBe('stolen.txt (hard link: not readable)');
    expect((await call(listFilesTool, { path: 'stolen.txt' })).content).toMatch(/hard link/);
    expect((await callError(runCodeTool, { language: 'python', file: 'stolen.txt' })).message).toMatch(/hard link/);
  });

  it('refuses a FIFO instead of waiting on it', async () => {
    await mkdir(workspace, { recursive: true });
    execFileSync('mkfifo', [path.join(workspace, 'pipe')]);
    expect((await callError(readFileTool, { path: 'pipe' })).message).toMatch(/not a regular file/);
    const write = await callError(writeFileTool, { path: 'pipe', content: 'x' });
    expect(write.message).toMatch(/not a regular file/);
    expect(write.message).not.toContain(base);
  });

  it('refuses a run_code file outside the workspace', async () => {
    const err = await callError(runCodeTool, { language: 'python', file: '../x.py' });
    expect(err.message).toMatch(/outside the workspace/);
  });
});

describe('run_code', () => {
  it('needs approval by default and is not idempotent', () => {
    expect(runCodeTool.needsApproval).toBe(true);
    expect(runCodeTool.idempotent).toBe(false);
    expect(runCodeTool.annotations).toMatchObject({ destructive: true, openWorld: true });
    expect(readFileTool.annotations?.readOnly).toBe(true);
    expect(writeFileTool.annotations?.destructive).toBe(true);
  });

  it('takes exactly one of code and file', () => {
    expect(runCodeTool.parameters.safeParse({ language: 'python' }).success).toBe(false);
    expect(runCodeTool.parameters.safeParse({ language: 'python', code: 'print(1)', file: 'a.py' }).success).toBe(false);
    expect(runCodeTool.parameters.safeParse({ language: 'ruby', code: 'puts 1' }).success).toBe(false);
    expect(runCodeTool.parameters.safeParse({ language: 'node', code: 'console.log(1)' }).success).toBe(true);
  });

  it('runs python and prints its output, in the workspace', async () => {
    const progress: string[] = [];
    const r = await call(
      runCodeTool,
      { language: 'python', code: 'import os, sys\nprint("hello from python", sys.argv[1:])\nopen("out.txt", "w").write("made")\nprint(os.getcwd() == os.environ["HOME"])' , args: ['a', 'b c'] },
      makeCtx({ progress }),
    );
    expect(r.isError).toBeFalsy();
    expect(r.content).toContain('exit code: 0');
    expect(r.content).toMatch(/duration: \d+ ms/);
    expect(r.content).toContain("hello from python ['a', 'b c']");
    expect(r.content).toContain('True');
    expect(r.content).toContain('stderr: (empty)');
    expect(await readFile(path.join(workspace, 'out.txt'), 'utf8')).toBe('made');
    expect(progress.length).toBeGreaterThan(0);
    // The snippet file does not stay behind.
    expect((await readdir(workspace)).filter((f) => f.startsWith('.switchboard_snippet_'))).toEqual([]);
  });

  it('runs node snippets (CommonJS or ES module syntax) and files', async () => {
    const cjs = await call(runCodeTool, { language: 'node', code: 'const fs = require("fs");\nconsole.log("hello from node", typeof fs.readFileSync)' });
    expect(cjs.isError).toBeFalsy();
    expect(cjs.content).toContain('hello from node function');

    const esm = await call(runCodeTool, { language: 'node', code: 'import os from "node:os";\nconsole.log("esm", typeof os.cpus, await Promise.resolve(42))' });
    expect(esm.content).toContain('esm function 42');

    await call(writeFileTool, { path: 'scripts/add.js', content: 'console.log(Number(process.argv[2]) + Number(process.argv[3]))' });
    const file = await call(runCodeTool, { language: 'node', file: 'scripts/add.js', args: ['2', '3'] });
    expect(file.isError).toBeFalsy();
    expect(file.content).toMatch(/stdout:\n5\b/);

    await call(writeFileTool, { path: 'calc.py', content: 'print(6 * 7)\n' });
    const py = await call(runCodeTool, { language: 'python', file: 'calc.py' });
    expect(py.content).toMatch(/stdout:\n42\b/);
  });

  it('reports a missing script file as a tool error', async () => {
    const err = await callError(runCodeTool, { language: 'python', file: 'missing.py' });
    expect(err.message).toMatch(/No file "missing.py"/);
  });

  it('reports a non-zero exit with stderr and isError, not as a ToolError', async () => {
    const r = await call(runCodeTool, { language: 'python', code: 'import sys\nprint("before")\nx = 1 / 0\n' });
    expect(r.isError).toBe(true);
    expect(r.content).toContain('exit code: 1');
    expect(r.content).toContain('before');
    expect(r.content).toContain('ZeroDivisionError');
    // A readable traceback: the failing source line, and no absolute workspace path.
    expect(r.content).toContain('x = 1 / 0');
    expect(r.content).not.toContain(workspace);

    const n = await call(runCodeTool, { language: 'node', code: 'console.error("bad thing"); process.exit(3)' });
    expect(n.isError).toBe(true);
    expect(n.content).toContain('exit code: 3');
    expect(n.content).toMatch(/stderr:\nbad thing/);
  });

  it('kills python code that runs past the time limit', async () => {
    const r = await call(runCodeTool, { language: 'python', code: 'print("spinning")\nwhile True: pass' }, makeCtx({ limits: { codeTimeoutMs: 500 } }));
    expect(r.isError).toBe(true);
    expect(r.content).toContain('timed out after 500 ms');
  });

  it('kills node code that runs past the time limit', async () => {
    const r = await call(runCodeTool, { language: 'node', code: 'for (;;) {}' }, makeCtx({ limits: { codeTimeoutMs: 500 } }));
    expect(r.isError).toBe(true);
    expect(r.content).toContain('timed out after 500 ms');
  });

  it('kills the whole process tree, grandchildren included', async () => {
    const marker = `sb-marker-${randomBytes(6).toString('hex')}`;
    const code = [
      'import subprocess, sys, time',
      'subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", sys.argv[1]])',
      'open("started.txt", "w").write("yes")',
      'time.sleep(60)',
    ].join('\n');
    const r = await call(runCodeTool, { language: 'python', code, args: [marker] }, makeCtx({ limits: { codeTimeoutMs: 1500 } }));
    expect(r.content).toContain('timed out');
    expect(existsSync(path.join(workspace, 'started.txt'))).toBe(true);
    expect(await eventuallyNoneWith(marker)).toEqual([]);
  });

  it('caps stdout and stderr together and says what was cut', async () => {
    const r = await call(
      runCodeTool,
      { language: 'python', code: 'import sys\nfor i in range(50000):\n    print("line", i)\nprint("done", file=sys.stderr)' },
      makeCtx({ limits: { codeOutputBytes: 1000 } }),
    );
    expect(r.isError).toBeFalsy();
    expect(r.content).toContain('exit code: 0');
    expect(r.content).toMatch(/\[truncated \d+ bytes\]/);
    expect(r.content).not.toContain('line 49999');
    expect(r.content.length).toBeLessThan(1500);
    // The error output survives a flood of stdout.
    expect(r.content).toMatch(/stderr:\ndone/);
  });

  it('keeps the traceback when stdout floods the cap', async () => {
    const r = await call(
      runCodeTool,
      { language: 'python', code: 'for i in range(50000):\n    print("line", i)\nraise ValueError("the real problem")' },
      makeCtx({ limits: { codeOutputBytes: 2000 } }),
    );
    expect(r.isError).toBe(true);
    expect(r.content).toContain('ValueError: the real problem');
    expect(r.content).toContain('line 0');
    expect(r.content.length).toBeLessThan(2600);
  });

  it('gives the child a minimal environment without the parent secrets', async () => {
    const saved = process.env.OPENAI_API_KEY;
    process.env.OPENAI_API_KEY = 'sk-test-should-not-leak';
    process.env.SWITCHBOARD_TEST_SECRET = 'also-secret';
    try {
      const py = await call(runCodeTool, {
        language: 'python',
        code: 'import os, json\nprint(json.dumps(sorted(os.environ.keys())))\nprint(os.environ.get("OPENAI_API_KEY"))\nprint(os.environ["HOME"])',
      });
      expect(py.content).not.toContain('sk-test-should-not-leak');
      expect(py.content).not.toContain('OPENAI_API_KEY');
      expect(py.content).not.toContain('SWITCHBOARD_TEST_SECRET');
      expect(py.content).toContain('None');
      expect(py.content).toContain('"PATH"');

      const node = await call(runCodeTool, { language: 'node', code: 'console.log(JSON.stringify(process.env))' });
      expect(node.content).not.toContain('sk-test-should-not-leak');
      expect(node.content).not.toContain('also-secret');
    } finally {
      if (saved === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = saved;
      delete process.env.SWITCHBOARD_TEST_SECRET;
    }
  });

  it('closes stdin', async () => {
    const r = await call(runCodeTool, { language: 'python', code: 'import sys\nprint(repr(sys.stdin.read()) if sys.stdin else "no stdin")' });
    expect(r.isError).toBeFalsy();
    expect(r.content).toMatch(/''|no stdin/);
  });

  it('kills a running child when the run is cancelled', async () => {
    const marker = `sb-marker-${randomBytes(6).toString('hex')}`;
    const controller = new AbortController();
    const pending = call(
      runCodeTool,
      { language: 'python', code: 'import time\nprint("spinning")\nopen("started.txt", "w").write("yes")\nwhile True: time.sleep(0.05)', args: [marker] },
      makeCtx({ signal: controller.signal, limits: { codeTimeoutMs: 20_000 } }),
    );
    await until(() => existsSync(path.join(workspace, 'started.txt')) && processesWith(marker).length > 0, 'the code to start');
    controller.abort();
    const r = await pending;
    expect(r.isError).toBe(true);
    expect(r.content).toContain('cancelled');
    // What it printed before the kill is kept.
    expect(r.content).toContain('spinning');
    expect(await eventuallyNoneWith(marker)).toEqual([]);
  });

  it('does not start when the run is already cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    const r = await call(runCodeTool, { language: 'python', code: 'open("ran.txt", "w").write("x")' }, makeCtx({ signal: controller.signal }));
    expect(r.isError).toBe(true);
    expect(existsSync(path.join(workspace, 'ran.txt'))).toBe(false);
  });
});

describe('builtin tools', () => {
  it('lists the specialist tools with unique names', () => {
    const names = builtinToolNames();
    expect(names).toEqual(expect.arrayContaining(['write_file', 'read_file', 'list_files', 'run_code', 'generate_image', 'analyze_image']));
    expect(new Set(names).size).toBe(names.length);
    expect(builtinTools.length).toBe(names.length);
  });
});
