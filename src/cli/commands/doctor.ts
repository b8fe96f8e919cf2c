import { accessSync, constants, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { findConfigFile } from '../../core/agents/load.js';
import { describeModelSetup } from '../../core/model/providers.js';
import { loadConfig, parse } from '../common.js';

const HELP = `Usage: switchboard doctor [--config FILE]

Checks the setup without calling a model: the config file, each model provider (credentials present,
endpoint; keys are never printed), the store and the workspace folder. Exit 0 when all is well.`;

export default async function doctor(argv: string[]): Promise<number> {
  const { values } = parse(argv, {}, false);
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  let ok = true;
  const report = (good: boolean, what: string) => {
    ok &&= good;
    process.stdout.write(`${good ? 'ok  ' : 'FAIL'}  ${what}\n`);
  };
  const file = findConfigFile({ path: values.config, env: process.env });
  const config = loadConfig(values.config);
  report(true, file ? `config ${file}` : 'config: none found, using the built-in agents');
  for (const p of describeModelSetup({ providers: config.providers, env: process.env })) {
    report(p.ok, p.ok ? `provider ${p.name}: ${p.provider.type} ${p.provider.url} (key from ${p.provider.keySource})` : `provider ${p.name}: ${p.message}`);
  }
  if (config.store.type === 'sqlite') {
    const { SqliteStore } = await import('../../core/store/sqlite.js');
    const path = config.store.path === ':memory:' ? ':memory:' : resolve(config.store.path);
    try {
      const store = new SqliteStore({ path });
      await store.init();
      await store.close();
      report(true, `store sqlite ${path}`);
    } catch (err) {
      report(false, `store sqlite ${path}: ${(err as Error).message}`);
    }
  } else {
    const { PostgresStore } = await import('../../core/store/postgres.js');
    const store = new PostgresStore({ url: config.store.url });
    try {
      await store.init();
      report(true, 'store postgres reachable, schema up to date');
    } catch (err) {
      report(false, `store postgres: ${(err as Error).message}`);
    } finally {
      await store.close();
    }
  }
  const workspace = resolve(config.workspaceDir);
  try {
    mkdirSync(workspace, { recursive: true });
    accessSync(workspace, constants.W_OK);
    report(true, `workspaces ${workspace}`);
  } catch (err) {
    report(false, `workspaces ${workspace}: ${(err as Error).message}`);
  }
  return ok ? 0 : 1;
}
