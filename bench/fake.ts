import { fork, type ChildProcess } from 'node:child_process';
import type { FakeCommand, FakeSettings, Span } from './script.js';

/** The scenario's handle on the model server process (see fake-server.ts). */
export interface BenchFake {
  /** Base URL for OPENAI_BASE_URL. */
  url: string;
  set(settings: FakeSettings): Promise<void>;
  /** Spans of the requests answered since the last collect. */
  collect(): Promise<Span[]>;
  /** The server process's CPU time so far. */
  cpu(): Promise<NodeJS.CpuUsage>;
  close(): Promise<void>;
}

type Pending = Map<number, (value: unknown) => void>;

export async function startBenchFake(settings: FakeSettings): Promise<BenchFake> {
  const child: ChildProcess = fork(new URL('./fake-server.js', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  const pending: Pending = new Map();
  let next = 1;
  const url = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`bench fake server exited (${code}) before it was ready`)));
    child.on('message', (msg: { ready?: string; id?: number; value?: unknown }) => {
      if (msg.ready) return resolve(msg.ready);
      if (msg.id !== undefined) {
        pending.get(msg.id)?.(msg.value);
        pending.delete(msg.id);
      }
    });
  });
  child.removeAllListeners('exit');
  const call = <T>(cmd: DistributiveOmit<FakeCommand, 'id'>): Promise<T> =>
    new Promise((resolve) => {
      const id = next++;
      pending.set(id, resolve as (value: unknown) => void);
      child.send({ ...cmd, id });
    });
  const collectAll = async (): Promise<Span[]> => {
    const { spans, errors } = await call<{ spans: Span[]; errors: string[] }>({ cmd: 'collect' });
    if (errors.length > 0) throw new Error(`the fake model server failed: ${errors.slice(0, 3).join(' | ')}`);
    return spans;
  };
  await call({ cmd: 'set', settings });
  return {
    url,
    set: (s) => call({ cmd: 'set', settings: s }),
    collect: collectAll,
    cpu: () => call({ cmd: 'cpu' }),
    async close() {
      if (!child.connected) return;
      const exited = new Promise((r) => child.once('exit', r));
      await call({ cmd: 'close' });
      await exited;
    },
  };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
