import { statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, parse } from '../common.js';

const HELP = `Usage: switchboard teams package --app-id GUID [--out switchboard-teams.zip] [--version X.Y.Z]

Writes the Teams app package (manifest.json with the bot's Microsoft App ID filled in, color.png,
outline.png) to upload in Teams (Apps > Manage your apps > Upload an app) or the Teams admin center.`;

export default async function teams(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') {
    process.stdout.write(HELP + '\n');
    return sub ? 0 : 2;
  }
  if (sub !== 'package') throw new CliError(`unknown teams command "${sub}" (try: switchboard teams package --app-id GUID)`, 2);
  const { values } = parse('teams package', rest, { 'app-id': { type: 'string' }, out: { type: 'string' }, version: { type: 'string' } }, false);
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const appId = values['app-id'] ?? process.env.TEAMS_APP_ID;
  if (!appId) throw new CliError('--app-id is required (the Microsoft App ID of the bot registration).', 2);
  const { teamsPackage } = await import('../../bots/teams/package.js');
  const out = values.out ?? 'switchboard-teams.zip';
  writeFileSync(out, teamsPackage(manifestDir(), appId, values.version));
  process.stdout.write(`${out}\n`);
  return 0;
}

/** manifest/teams next to package.json, from src/cli/commands (tsx) or dist/cli (bundled). */
function manifestDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'manifest', 'teams');
    if (fileExists(join(candidate, 'manifest.json'))) return candidate;
    dir = dirname(dir);
  }
  throw new CliError('manifest/teams not found next to the installed package.', 1);
}

function fileExists(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
