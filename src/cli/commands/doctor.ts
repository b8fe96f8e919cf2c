import { accessSync, constants, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { describeModelSetup, findConfigFile, openStore } from '../../index.js';
import { loadConfig, parse } from '../common.js';

const HELP = `Usage: switchboard doctor [--config FILE]

Checks the setup without calling a model: the config file, each model provider (credentials present,
endpoint; keys are never printed), the store and the workspace folder. Exit 0 when all is well.`;

export default async function doctor(argv: string[]): Promise<number> {
  const { values } = parse('doctor', argv, {}, false);
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
  // The same opening as every command, so a failure reads the same here (what to check, no password).
  const where = config.store.type === 'sqlite' ? `sqlite ${config.store.path === ':memory:' ? ':memory:' : resolve(config.store.path)}` : 'postgres';
  try {
    const store = await openStore(config.store, process.cwd());
    try {
      await store.init();
    } finally {
      await store.close();
    }
    report(true, config.store.type === 'sqlite' ? `store ${where}` : 'store postgres reachable, schema up to date');
  } catch (err) {
    report(false, `store ${where}: ${(err as Error).message}`);
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
