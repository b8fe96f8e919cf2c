/**
 * The built `switchboard` for Teams: `teams package` writes the upload-ready zip; `serve` refuses a
 * broken `teams:` section at its file and line, a single-tenant bot without its tenant id, and an
 * anonymous (no app id) bot on a non-loopback address — each before anything listens (exit 2).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, runCli, STACK_LINE, tempDir } from '../support/cli.js';

let cwd: ReturnType<typeof tempDir> | undefined;
beforeAll(() => assertBuilt());
afterEach(() => {
  cwd?.remove();
  cwd = undefined;
});

const NO_MODEL = { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' };

describe('switchboard teams / serve with Teams', () => {
  it('`teams package --app-id` writes the zip; a bad id is a usage error', async () => {
    cwd = tempDir();
    const ok = await runCli(['teams', 'package', '--app-id', '3f2504e0-4f89-11d3-9a0c-0305e82c3301', '--out', 'app.zip'], { cwd: cwd.dir, env: NO_MODEL });
    expect(ok).toMatchObject({ code: 0, stdout: 'app.zip\n' });
    const zip = readFileSync(join(cwd.dir, 'app.zip'));
    expect(zip.readUInt32LE(0)).toBe(0x04034b50);
    expect(zip.includes(Buffer.from('3f2504e0-4f89-11d3-9a0c-0305e82c3301'))).toBe(false); // deflated, not stored
    const bad = await runCli(['teams', 'package', '--app-id', 'nope'], { cwd: cwd.dir, env: NO_MODEL });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/GUID/);
    expect(existsSync(join(cwd.dir, 'switchboard-teams.zip'))).toBe(false);
  });

  it('`serve` refuses a broken teams: section, a missing tenant id, and an anonymous bot on 0.0.0.0', async () => {
    cwd = tempDir({ 'switchboard.yaml': 'defaults:\n  model: gpt-4o-mini\nteams:\n  appType: Sideways\n' });
    const file = join(cwd.dir, 'switchboard.yaml');
    const broken = await runCli(['serve', '--port', '0'], { cwd: cwd.dir, env: NO_MODEL });
    expect(broken.code).toBe(2);
    expect(broken.stderr).not.toMatch(STACK_LINE);
    expect(broken.stderr).toContain(`${file}:4 teams.appType`);

    cwd.write('switchboard.yaml', 'defaults:\n  model: gpt-4o-mini\n');
    const noTenant = await runCli(['serve', '--port', '0'], { cwd: cwd.dir, env: { ...NO_MODEL, TEAMS_APP_ID: 'app', TEAMS_APP_PASSWORD: 'secret' } });
    expect(noTenant.code).toBe(2);
    expect(noTenant.stderr).toMatch(/tenant id/);

    // MCP may bind 0.0.0.0 with tokens; the anonymous Teams endpoint still may not.
    cwd.write('switchboard.yaml', 'defaults:\n  model: gpt-4o-mini\nmcp:\n  tokens:\n    alice: a-token-of-sixteen-chars\n');
    const anonymous = await runCli(['serve', '--port', '0', '--host', '0.0.0.0'], { cwd: cwd.dir, env: { ...NO_MODEL, SWITCHBOARD_TEAMS: 'anonymous' } });
    expect(anonymous.code).toBe(2);
    expect(anonymous.stderr).toMatch(/served on loopback only \(got --host 0\.0\.0\.0\)/);
  });
});
