/**
 * The Teams app package: the manifest (bot id filled in) is valid against the Teams JSON schema that
 * @microsoft/app-manifest ships (offline), the icons have the sizes Teams demands, and the zip holds
 * the three files at its root with intact contents.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { AppManifestUtils } from '@microsoft/app-manifest';
import { describe, expect, it } from 'vitest';
import { crc32, filledManifest, teamsPackage } from '../../src/bots/teams/package.js';

const DIR = join(import.meta.dirname, '../../manifest/teams');
const APP_ID = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const schemaFile = join(dirname(createRequire(import.meta.url).resolve('@microsoft/app-manifest')), 'json-schemas/teams/v1.24/MicrosoftTeams.schema.json');

function unzip(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let at = 0;
  while (buf.readUInt32LE(at) === 0x04034b50) {
    const crc = buf.readUInt32LE(at + 14);
    const size = buf.readUInt32LE(at + 18);
    const nameLen = buf.readUInt16LE(at + 26);
    const name = buf.subarray(at + 30, at + 30 + nameLen).toString('utf8');
    const data = inflateRawSync(buf.subarray(at + 30 + nameLen, at + 30 + nameLen + size));
    expect(crc32(data)).toBe(crc);
    out.set(name, data);
    at += 30 + nameLen + size;
  }
  expect(buf.readUInt32LE(buf.length - 22)).toBe(0x06054b50);
  expect(buf.readUInt16LE(buf.length - 12)).toBe(out.size);
  return out;
}

function pngSize(png: Buffer) {
  expect(png.subarray(1, 4).toString('ascii')).toBe('PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20), colorType: png[25] };
}

describe('Teams app package', () => {
  it('fills the bot id and validates against the Teams manifest schema (v1.24), offline', async () => {
    const manifest = filledManifest(DIR, APP_ID);
    const schema = JSON.parse(readFileSync(schemaFile, 'utf8'));
    const failures = await AppManifestUtils.validateAgainstSchema(manifest as never, schema);
    expect(failures).toEqual([]);
    expect(manifest.id).toBe(APP_ID);
    const bot = (manifest.bots as { botId: string; scopes: string[]; supportsFiles: boolean }[])[0]!;
    expect(bot).toMatchObject({ botId: APP_ID, scopes: ['personal', 'team', 'groupChat'], supportsFiles: true });
    expect(JSON.stringify(manifest)).not.toContain('{{');
  });

  it('refuses an app id that is not a GUID, and a broken manifest fails the schema', async () => {
    expect(() => filledManifest(DIR, 'not-a-guid')).toThrow(/GUID/);
    const schema = JSON.parse(readFileSync(schemaFile, 'utf8'));
    const broken = { ...filledManifest(DIR, APP_ID), accentColor: undefined, bots: [{ botId: APP_ID, scopes: ['everywhere'] }] };
    delete broken.accentColor;
    expect((await AppManifestUtils.validateAgainstSchema(broken as never, schema)).length).toBeGreaterThan(0);
  });

  it('zips manifest.json, color.png (192×192) and outline.png (32×32, transparent) at the root', () => {
    const files = unzip(teamsPackage(DIR, APP_ID, '1.2.3'));
    expect([...files.keys()].sort()).toEqual(['color.png', 'manifest.json', 'outline.png']);
    expect(JSON.parse(files.get('manifest.json')!.toString('utf8'))).toMatchObject({ id: APP_ID, version: '1.2.3' });
    expect(pngSize(files.get('color.png')!)).toMatchObject({ width: 192, height: 192 });
    expect(pngSize(files.get('outline.png')!)).toEqual({ width: 32, height: 32, colorType: 6 });
  });
});
