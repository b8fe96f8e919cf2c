/**
 * The run_code sandbox, probed with hostile snippets: each tries to get out (the engine's secrets,
 * other conversations, the store, the network, the host's processes, memory and process counts, the
 * time limit) and the test checks what the code got. Skipped, with the reason printed, where
 * bubblewrap is missing or cannot create namespaces.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentSpecSchema, ConfigSchema } from '../../src/core/agents/spec.js';
import { silentLogger } from '../../src/core/logger.js';
import type { ModelClient } from '../../src/core/model/types.js';
import type { ToolContext, ToolResult } from '../../src/core/runs/tool.js';
import { runCodeTool } from '../../src/core/tools/code.js';
import { bubblewrapArgs, probeBubblewrap, SandboxUnavailableError } from '../../src/core/tools/sandbox/bubblewrap.js';
import { eventuallyNoneWith, processesWith, sandboxUnavailableReason, until } from '../support/sandbox.js';

const reason = await sandboxUnavailableReason();
if (reason) console.warn(`sandbox tests skipped: ${reason}`);

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ENGINE_SCRIPT = path.join(ROOT, 'test/support/sandbox-engine.mjs');
const BUILT = existsSync(path.join(ROOT, 'dist/index.js'));

const noModel: ModelClient = {
  chat() {
    throw new Error('run_code must not call the model');
  },
  generateImage() {
    throw new Error('run_code must not call the model');
  },
};

let base: string;
let workspace: string;
let otherFile: string;
let storeFile: string;
const SECRET = `sk-fake-engine-secret-${randomBytes(6).toString('hex')}`;
const OTHER = 'OTHER-CONVERSATION-SECRET';
const STORE = 'STORE-FILE-SECRET';

function makeCtx(opts: { signal?: AbortSignal; timeoutMs?: number; network?: boolean; sandbox?: ToolContext['sandbox'] } = {}): ToolContext {
  return {
    conversationId: 'conv_1',
    runId: 'run_1',
    threadId: 'thread_1',
    agent: AgentSpecSchema.parse({ name: 'code_agent', description: 'Writes and runs code.', network: opts.network }),
    toolCallId: 'call_1',
    workspaceDir: workspace,
    signal: opts.signal ?? new AbortController().signal,
    model: noModel,
    logger: silentLogger,
    limits: { codeTimeoutMs: opts.timeoutMs ?? 20_000, codeOutputBytes: 16_384 },
    sandbox: opts.sandbox,
    progress: () => undefined,
  };
}

async function py(code: string, ctx: ToolContext = makeCtx(), args: string[] = []): Promise<ToolResult> {
  const out = await runCodeTool.execute(runCodeTool.parameters.parse({ language: 'python', code, args }), ctx);
  return typeof out === 'string' ? { content: out } : out;
}

/**
 * A hostile probe: refuses to do anything unless it really runs in the sandbox (where the workspace
 * is /workspace), so a broken sandbox fails these tests instead of letting them loose on the host.
 */
async function hostile(code: string, ctx: ToolContext = makeCtx(), args: string[] = []): Promise<ToolResult> {
  const guard = 'import os as _os, sys as _sys\nif _os.getcwd() != "/workspace": _sys.exit("NOT SANDBOXED: refusing to run a hostile probe")\n';
  return py(guard + code, ctx, args);
}

/** What the code printed on stdout. */
function stdoutOf(r: ToolResult): string {
  const m = /\nstdout:\n([\s\S]*?)\nstderr:/.exec(r.content);
  return m?.[1] ?? '';
}

beforeEach(async () => {
  base = await realpath(await mkdtemp(path.join(os.tmpdir(), 'sb-sandbox-')));
  workspace = path.join(base, 'workspaces', 'conv_1');
  await mkdir(path.join(base, 'workspaces', 'conv_2'), { recursive: true });
  otherFile = path.join(base, 'workspaces', 'conv_2', 'secret.txt');
  await writeFile(otherFile, OTHER);
  storeFile = path.join(base, 'switchboard.db');
  await writeFile(storeFile, STORE);
  process.env.SWITCHBOARD_FAKE_API_KEY = SECRET;
});

afterEach(async () => {
  delete process.env.SWITCHBOARD_FAKE_API_KEY;
  await rm(base, { recursive: true, force: true });
});

describe('sandbox configuration', () => {
  it('defaults to bubblewrap without network, and validates the setting', () => {
    expect(ConfigSchema.parse({}).sandbox).toEqual({ type: 'bubblewrap', network: false, memoryMb: 1024, maxProcesses: 128 });
    expect(ConfigSchema.parse({ sandbox: { type: 'none' } }).sandbox.type).toBe('none');
    expect(ConfigSchema.safeParse({ sandbox: { type: 'chroot' } }).success).toBe(false);
    expect(ConfigSchema.safeParse({ sandbox: { memoryMb: 1 } }).success).toBe(false);
    expect(ConfigSchema.safeParse({ sandbox: { network: true, extra: 1 } }).success).toBe(false);
    expect(ConfigSchema.parse({ agents: { code_agent: { network: true } } }).agents.code_agent?.network).toBe(true);
  });

  it('refuses to run without bubblewrap, saying what to install or set', async () => {
    const missing = await probeBubblewrap(undefined).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(SandboxUnavailableError);
    expect((missing as Error).message).toMatch(/apt-get install bubblewrap/);
    expect((missing as Error).message).toMatch(/sandbox: \{ type: none \}/);
    // A "bwrap" that cannot build the sandbox (here: one that always fails).
    const broken = await probeBubblewrap('/bin/false').catch((e: unknown) => e);
    expect(broken).toBeInstanceOf(SandboxUnavailableError);
    expect((broken as Error).message).toMatch(/cannot create one here/);
    expect((broken as Error).message).toMatch(/user namespaces/);
  });

  it('refuses a layout where the sandbox would show every workspace', () => {
    const bw = { path: '/usr/bin/bwrap', disableUserns: true, tmpfsSize: true };
    const req = { command: '/usr/bin/python3', args: [], env: {}, network: false, memoryMb: 256, maxProcesses: 32 };
    // Workspaces under /usr, which is shown read-only.
    expect(() => bubblewrapArgs(bw, { ...req, workspace: '/usr/local/sb/workspaces/conv_1', runtimeDirs: [] })).toThrow(SandboxUnavailableError);
    // A runtime folder (a venv, say) that holds the workspaces.
    expect(() => bubblewrapArgs(bw, { ...req, workspace: '/srv/app/.switchboard/workspaces/conv_1', runtimeDirs: ['/srv/app'] })).toThrow(/holds the workspaces/);
    // The usual layout: the runtime is shown, the workspace is mounted at /workspace, nothing else of /srv.
    const ok = bubblewrapArgs(bw, { ...req, workspace: '/srv/app/.switchboard/workspaces/conv_1', runtimeDirs: ['/srv/venv/bin', '/srv/venv'] });
    const binds = ok.options.flatMap((o, i) => (o === '--ro-bind' || o === '--bind' ? [`${ok.options[i + 1]} -> ${ok.options[i + 2]}`] : []));
    expect(binds).toContain('/srv/venv -> /srv/venv');
    expect(binds).not.toContain('/srv/venv/bin -> /srv/venv/bin');
    expect(binds).toContain('/srv/app/.switchboard/workspaces/conv_1 -> /workspace');
    expect(binds.filter((b) => b.startsWith('/srv/app'))).toHaveLength(1);
    expect(ok.options).toContain('--unshare-net');
    expect(ok.options).toContain('--die-with-parent');
  });

  it('runs unsandboxed only when the config says sandbox: none', async () => {
    const r = await py('import os\nprint(os.getcwd())', makeCtx({ sandbox: { type: 'none', network: false, memoryMb: 1024, maxProcesses: 128 } }));
    expect(r.isError).toBeFalsy();
    // Outside a sandbox the code sees the real workspace folder (shown as ".").
    expect(stdoutOf(r)).toBe('.');
  });
});

describe.skipIf(Boolean(reason))('run_code in bubblewrap: hostile snippets', () => {
  it('sees no engine environment, not even through /proc/<engine pid>/environ', async () => {
    const r = await hostile(
      [
        'import glob, os',
        `paths = ["/proc/${process.pid}/environ", "/proc/${process.ppid}/environ"] + glob.glob("/proc/*/environ")`,
        'for p in paths:',
        '    try: print(p, open(p, "rb").read())',
        '    except Exception as e: print(p, "ERR", type(e).__name__)',
        'print(dict(os.environ))',
      ].join('\n'),
    );
    expect(r.content).toContain('exit code: 0');
    expect(r.content).not.toContain(SECRET);
    expect(r.content).not.toContain('SWITCHBOARD_FAKE_API_KEY');
  });

  it('sees only its own processes in /proc, and no host paths in them', async () => {
    const r = await hostile(
      'import json, os\nprint(json.dumps({p: open(f"/proc/{p}/cmdline", "rb").read().decode(errors="replace") for p in os.listdir("/proc") if p.isdigit()}))',
    );
    const procs = JSON.parse(stdoutOf(r)) as Record<string, string>;
    const cmdlines = Object.values(procs);
    expect(cmdlines.length).toBeGreaterThan(0);
    expect(cmdlines.length).toBeLessThanOrEqual(3); // bwrap's init and the code (a shell that became python)
    expect(procs[String(process.pid)] ?? '').not.toContain('vitest');
    for (const c of cmdlines) {
      expect(c).toMatch(/bwrap|python/);
      expect(c).not.toContain(base);
    }
  });

  it('cannot read another conversation, the store or the host home', async () => {
    const tries = [otherFile, storeFile, '../conv_2/secret.txt', '/workspace/../conv_2/secret.txt', path.join(os.homedir(), '.bashrc'), base];
    const r = await hostile(
      [
        'import json, os, sys',
        'for p in json.loads(sys.argv[1]):',
        '    try: print("READ", os.listdir(p) if os.path.isdir(p) else open(p).read())',
        '    except Exception as e: print("DENIED", type(e).__name__)',
      ].join('\n'),
      makeCtx(),
      [JSON.stringify(tries)],
    );
    expect(r.content).not.toContain(OTHER);
    expect(r.content).not.toContain(STORE);
    expect(stdoutOf(r).split('\n')).toEqual(tries.map(() => expect.stringMatching(/^DENIED /)));
  });

  it('cannot write outside its workspace (its /tmp is its own)', async () => {
    const hostTmp = path.join(os.tmpdir(), `sb-escape-${randomBytes(4).toString('hex')}`);
    const targets = [path.join(base, 'escape.txt'), path.join(base, 'workspaces', 'conv_2', 'escape.txt'), '/usr/escape.txt', '/etc/escape.txt', '/escape.txt'];
    const r = await hostile(
      [
        'import json, sys',
        'for p in json.loads(sys.argv[1]):',
        '    try: open(p, "w").write("x"); print("WROTE", p)',
        '    except Exception as e: print("DENIED", type(e).__name__)',
        'open(sys.argv[2], "w").write("private tmp")',
        'open("inside.txt", "w").write("ok")',
      ].join('\n'),
      makeCtx(),
      [JSON.stringify(targets), hostTmp],
    );
    expect(r.content).toContain('exit code: 0');
    expect(stdoutOf(r).split('\n')).toEqual(targets.map(() => expect.stringMatching(/^DENIED /)));
    for (const t of [...targets, hostTmp]) expect(existsSync(t)).toBe(false);
    expect(await readFile(path.join(workspace, 'inside.txt'), 'utf8')).toBe('ok');
  });

  it('cannot reach a loopback server, unless the agent is allowed the network', async () => {
    let connections = 0;
    const server = net.createServer((s) => {
      connections++;
      s.end('hello from the host\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const code = [
      'import socket, sys',
      'try:',
      '    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)',
      '    print("CONNECTED", s.recv(100).decode().strip())',
      'except Exception as e: print("BLOCKED", type(e).__name__)',
    ].join('\n');
    try {
      const blocked = await hostile(code, makeCtx(), [String(port)]);
      expect(stdoutOf(blocked)).toMatch(/^BLOCKED /);
      expect(connections).toBe(0);

      const allowed = await hostile(code, makeCtx({ network: true }), [String(port)]);
      expect(stdoutOf(allowed)).toBe('CONNECTED hello from the host');
      expect(connections).toBe(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('cannot allocate 1.5 GB (python and node)', async () => {
    const p = await hostile('try:\n    b = bytearray(1500 * 1024 * 1024)\n    print("ALLOCATED", len(b))\nexcept MemoryError:\n    print("MemoryError")');
    expect(stdoutOf(p)).toBe('MemoryError');
    const n = await runCodeTool.execute(
      { language: 'node', code: 'try { const b = Buffer.alloc(1500 * 1024 * 1024, 1); console.log("ALLOCATED", b.length) } catch (e) { console.log("FAILED", e.name) }' },
      makeCtx(),
    );
    const text = typeof n === 'string' ? n : n.content;
    expect(text).not.toContain('ALLOCATED');
    expect(text).toMatch(/FAILED RangeError|exit code: (13[4-9]|none)|out of memory/i);
  });

  it('cannot fork 300 processes', async () => {
    const r = await hostile(
      [
        'import os, time',
        'n, err = 0, None',
        'for i in range(300):',
        '    try: pid = os.fork()',
        '    except OSError as e:',
        '        err = e',
        '        break',
        '    if pid == 0:',
        '        time.sleep(2)',
        '        os._exit(0)',
        '    n += 1',
        'print("FORKED", n, "ERR", err)',
      ].join('\n'),
    );
    const m = /^FORKED (\d+) ERR (.*)$/.exec(stdoutOf(r));
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(300);
    expect(m![2]).toMatch(/Resource temporarily unavailable/);
  });

  it('ends at the time limit although a setsid grandchild holds stdout open; the grandchild dies', async () => {
    const marker = `sb-marker-${randomBytes(6).toString('hex')}`;
    const code = [
      'import subprocess, sys, time',
      'subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", sys.argv[1]], start_new_session=True)',
      'print("spawned", flush=True)',
      'time.sleep(120)',
    ].join('\n');
    const r = await hostile(code, makeCtx({ timeoutMs: 1500 }), [marker]);
    expect(r.isError).toBe(true);
    expect(r.content).toContain('timed out after 1500 ms');
    expect(r.content).toContain('spawned');
    expect(await eventuallyNoneWith(marker)).toEqual([]);
  });

  it('returns when the code exits, although a double-forked daemon holds stdout open; the daemon dies', async () => {
    const marker = `sb-marker-${randomBytes(6).toString('hex')}`;
    const code = [
      'import os, sys, time',
      'if os.fork() == 0:',
      '    os.setsid()',
      '    if os.fork() == 0:',
      '        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(120)", sys.argv[1]])',
      '    os._exit(0)',
      'time.sleep(0.5)',
      'print("parent done")',
    ].join('\n');
    const r = await hostile(code, makeCtx({ timeoutMs: 60_000 }), [marker]);
    expect(r.content).toContain('exit code: 0');
    expect(r.content).toContain('parent done');
    expect(await eventuallyNoneWith(marker)).toEqual([]);
  });

  it('cancel resolves and the whole tree is gone', async () => {
    const marker = `sb-marker-${randomBytes(6).toString('hex')}`;
    const controller = new AbortController();
    const code = [
      'import subprocess, sys, time',
      'subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", sys.argv[1]], start_new_session=True)',
      'open("started.txt", "w").write("yes")',
      'time.sleep(120)',
    ].join('\n');
    const pending = hostile(code, makeCtx({ signal: controller.signal, timeoutMs: 600_000 }), [marker]);
    await until(() => existsSync(path.join(workspace, 'started.txt')), 'the code to start');
    controller.abort();
    const r = await pending;
    expect(r.content).toContain('cancelled');
    expect(await eventuallyNoneWith(marker)).toEqual([]);
  });

  it('cannot signal host processes', async () => {
    const marker = `sb-marker-${randomBytes(6).toString('hex')}`;
    const host = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)', marker], { stdio: 'ignore' });
    try {
      await until(() => processesWith(marker).length > 0, 'the host process to start');
      const r = await hostile(
        [
          'import os, signal, sys',
          'try: os.kill(int(sys.argv[1]), signal.SIGKILL); print("KILLED")',
          'except Exception as e: print("DENIED", type(e).__name__)',
        ].join('\n'),
        makeCtx(),
        [String(host.pid)],
      );
      expect(stdoutOf(r)).toMatch(/^DENIED /);
      expect(processesWith(marker)).toEqual([host.pid]);
    } finally {
      host.kill('SIGKILL');
    }
  });

  it('runs as an unprivileged user in its own world: no host accounts, no mounts, no nested namespaces, no links out', async () => {
    const r = await hostile(
      [
        'import os, socket, subprocess',
        'print("uid", os.getuid(), "host", socket.gethostname(), "cwd", os.getcwd())',
        'print("passwd", open("/etc/passwd").read().split(chr(10))[0].split(":")[0])',
        'for cmd in (["mount", "-t", "tmpfs", "none", "/tmp"], ["unshare", "-U", "true"]):',
        '    try: print(cmd[0], "rc", subprocess.run(cmd, capture_output=True).returncode)',
        '    except FileNotFoundError: print(cmd[0], "rc", "missing")',
        'try: os.link("/usr/bin/env", "env-link"); print("LINKED")',
        'except OSError as e: print("link", type(e).__name__)',
      ].join('\n'),
    );
    const out = stdoutOf(r).split('\n');
    // The workspace is mounted at /workspace, which the output shows as ".".
    expect(out[0]).toBe('uid 1000 host sandbox cwd .');
    expect(out[1]).toBe('passwd sandbox');
    expect(out[2]).toMatch(/^mount rc ([1-9]\d*|missing)$/);
    expect(out[3]).toMatch(/^unshare rc ([1-9]\d*|missing)$/);
    expect(out[4]).toMatch(/^link /);
  });

  it.skipIf(!BUILT)('dies with a SIGKILLed engine: no sandboxed process survives it', async () => {
    const marker = `sb-marker-${randomBytes(6).toString('hex')}`;
    const engine = spawn(process.execPath, [ENGINE_SCRIPT, workspace, marker], { stdio: 'ignore', cwd: base });
    const exited = new Promise((resolve) => engine.on('exit', resolve));
    await until(() => existsSync(path.join(workspace, 'started.txt')), 'the sandboxed code to start');
    // The code spins inside the sandbox, under its own marker.
    expect(processesWith(marker).filter((pid) => pid !== engine.pid).length).toBeGreaterThan(0);
    engine.kill('SIGKILL');
    await exited;
    expect(await eventuallyNoneWith(marker)).toEqual([]);
  });
});

describe('hard links', () => {
  it('run_code will not run a hard-linked script', async () => {
    await mkdir(workspace, { recursive: true });
    await writeFile(path.join(base, 'workspaces', 'conv_2', 'tool.py'), 'print("other conversation")');
    await link(path.join(base, 'workspaces', 'conv_2', 'tool.py'), path.join(workspace, 'tool.py'));
    await expect(runCodeTool.execute({ language: 'python', file: 'tool.py' }, makeCtx())).rejects.toThrow(/hard link/);
  });
});

if (!BUILT) console.warn('sandbox tests: the engine-SIGKILL test is skipped: dist/index.js is missing (run `npm run build`)');
