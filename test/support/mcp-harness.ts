/**
 * MCP end-to-end helpers: the BUILT `switchboard` CLI spawned the way a host does it — `mcp` over
 * stdio with the SDK's own Client, or `serve` over Streamable HTTP — in a temp working directory
 * with its own config and SQLite file, its model pointed at a fake OpenAI server in this process.
 * `npm test` builds first; run `npm run build` before running these by hand.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { stringify } from 'yaml';
import type { ConfigInput } from '../../src/core/agents/spec.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeOpenAIOptions } from './fake-openai.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(ROOT, 'dist/cli/main.js');

export function assertBuilt(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} does not exist: run \`npm run build\` before the MCP tests.`);
}

export interface McpWorld {
  fake: FakeOpenAI;
  dir: string;
  configFile: string;
  /** Environment for a spawned CLI: the fake model, the config file, a fast progress heartbeat. */
  env(extra?: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

/** A temp folder with `switchboard.yaml` (SQLite inside the folder) and a fake OpenAI server. */
export async function startWorld(opts: { config?: ConfigInput; fake?: FakeOpenAIOptions } = {}): Promise<McpWorld> {
  assertBuilt();
  const fake = await startFakeOpenAI(opts.fake);
  const dir = mkdtempSync(join(tmpdir(), 'sb-mcp-'));
  const configFile = join(dir, 'switchboard.yaml');
  const config: ConfigInput = {
    ...opts.config,
    store: { type: 'sqlite', path: join(dir, 'switchboard.db') },
    workspaceDir: join(dir, 'workspaces'),
    limits: { modelRetries: 0, ...opts.config?.limits },
    // .ci/run sets this where bubblewrap cannot work, so run_code still runs (unsandboxed) in these tests.
    ...(process.env.SWITCHBOARD_TEST_SANDBOX === 'none' && !opts.config?.sandbox ? { sandbox: { type: 'none' as const } } : {}),
  };
  writeFileSync(configFile, stringify(config));
  return {
    fake,
    dir,
    configFile,
    env: (extra = {}) => ({
      HOME: dir,
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: 'sk-test-secret-key',
      SWITCHBOARD_CONFIG: configFile,
      SWITCHBOARD_MCP_PROGRESS_MS: '100',
      SWITCHBOARD_LOG_LEVEL: 'warn',
      ...extra,
    }),
    async close() {
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface StdioSession {
  client: Client;
  transport: StdioClientTransport;
  stderr(): string;
  close(): Promise<void>;
}

/** `switchboard mcp` spawned by the SDK's StdioClientTransport and connected. */
export async function connectStdio(world: McpWorld, opts: { env?: Record<string, string>; capabilities?: ClientCapabilities } = {}): Promise<StdioSession> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'mcp'],
    cwd: world.dir,
    env: world.env(opts.env),
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const client = new Client({ name: 'switchboard-test', version: '1.0.0' }, { capabilities: opts.capabilities ?? {} });
  await client.connect(transport);
  return { client, transport, stderr: () => stderr, close: () => client.close() };
}

export interface ServeProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:PORT` */
  origin: string;
  port: number;
  stderr(): string;
  stop(): Promise<number | null>;
}

/** `switchboard serve --port 0 ...`, resolved once it prints where it listens. */
export async function startServe(world: McpWorld, args: string[] = [], env: Record<string, string> = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], {
    cwd: world.dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...world.env(env) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const origin = await new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in time; stderr:\n${stderr}`)), 15_000);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      const m = /serving MCP at (http:\/\/\S+)\/mcp/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolvePromise(m[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}; stderr:\n${stderr}`));
    });
  });
  return {
    child,
    origin,
    port: Number(new URL(origin).port),
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs `switchboard serve` expecting it to fail at start; resolves with its exit code and stderr. */
export function serveFails(world: McpWorld, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], {
    cwd: world.dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...world.env(env) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  return new Promise((r) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      r({ code, stderr });
    }),
  );
}

/** An SDK client over Streamable HTTP, optionally with a bearer token. */
export async function connectHttp(url: string, opts: { token?: string; capabilities?: ClientCapabilities } = {}): Promise<Client> {
  const headers: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const client = new Client({ name: 'switchboard-test', version: '1.0.0' }, { capabilities: opts.capabilities ?? {} });
  await client.connect(transport);
  return client;
}

/** The text blocks of a tool result, joined. */
export function textOf(result: unknown): string {
  const content = ((result as { content?: unknown }).content ?? []) as { type: string; text?: string }[];
  return content
    .filter((c) => c.type === 'text')
    .map((c) => c.text ?? '')
    .join('\n');
}

/** Resolves when `predicate` holds, polling; rejects with `what` after `ms`. */
export async function until(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
