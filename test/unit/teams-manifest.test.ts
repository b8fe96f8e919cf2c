/**
 * The Teams app package: the manifest (bot id filled in) is valid against the Teams JSON schema that
 * @microsoft/app-manifest ships (offline), the icons have the sizes Teams demands, and the zip holds
 * the three files at its root with intact contents.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { inflateRawSync, inflateSync } from 'node:zlib';
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

/** The RGBA pixels of an 8-bit RGBA, non-interlaced PNG (all five row filters). */
function rgbaPixels(png: Buffer): { width: number; height: number; px: Uint8Array } {
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  expect([png[24], png[25], png[28]]).toEqual([8, 6, 0]);
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length; ) {
    const len = png.readUInt32BE(at);
    if (png.toString('ascii', at + 4, at + 8) === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + len));
    at += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * 4;
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x]!;
      const a = x >= 4 ? px[y * stride + x - 4]! : 0;
      const b = y > 0 ? px[(y - 1) * stride + x]! : 0;
      const c = x >= 4 && y > 0 ? px[(y - 1) * stride + x - 4]! : 0;
      const paeth = () => {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      };
      const pred = [0, a, b, (a + b) >> 1, filter === 4 ? paeth() : 0][filter]!;
      px[y * stride + x] = (v + pred) & 0xff;
    }
  }
  return { width, height, px };
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

  it('outline.png is a white outline on a transparent background', () => {
    const { px } = rgbaPixels(readFileSync(join(DIR, 'outline.png')));
    let opaque = 0;
    let transparent = 0;
    for (let i = 0; i < px.length; i += 4) {
      if (px[i + 3] === 0) transparent++;
      else {
        opaque++;
        expect([px[i], px[i + 1], px[i + 2]]).toEqual([255, 255, 255]);
      }
    }
    expect(opaque).toBeGreaterThan(20);
    expect(transparent).toBeGreaterThan(opaque);
    // Corners are background: the shape does not fill the square.
    for (const i of [0, 31, 32 * 31, 32 * 32 - 1]) expect(px[i * 4 + 3]).toBe(0);
  });
});
