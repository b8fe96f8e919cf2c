// Draws manifest/teams/color.png (192x192: a white switchboard mark on the accent colour) and
// outline.png (32x32: the same mark, white on transparent, as Teams requires) with node:zlib only.
// Run: node scripts/teams-icons.mjs
import { Buffer } from 'node:buffer';
import { writeFileSync } from 'node:fs';
import { URL } from 'node:url';
import { deflateSync } from 'node:zlib';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type, data) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
};
function png(size, pixel) {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    for (let x = 0; x < size; x++) raw.set(pixel(x / size, y / size), y * (size * 4 + 1) + 1 + x * 4);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
// The mark: three plugs (dots) on the left joined by lines to one on the right.
function mark(u, v, stroke) {
  const dots = [[0.3, 0.3], [0.3, 0.5], [0.3, 0.7], [0.72, 0.5]];
  for (const [x, y] of dots) if ((u - x) ** 2 + (v - y) ** 2 < 0.075 ** 2) return true;
  for (const [x, y] of dots.slice(0, 3)) {
    const t = Math.max(0, Math.min(1, ((u - x) * (0.72 - x) + (v - y) * (0.5 - y)) / ((0.72 - x) ** 2 + (0.5 - y) ** 2)));
    const px = x + t * (0.72 - x), py = y + t * (0.5 - y);
    if ((u - px) ** 2 + (v - py) ** 2 < stroke ** 2) return true;
  }
  return false;
}
const dir = new URL('../manifest/teams/', import.meta.url);
writeFileSync(new URL('color.png', dir), png(192, (u, v) => (mark(u, v, 0.022) ? [255, 255, 255, 255] : [0x3b, 0x5b, 0xdb, 255])));
writeFileSync(new URL('outline.png', dir), png(32, (u, v) => (mark(u, v, 0.04) ? [255, 255, 255, 255] : [0, 0, 0, 0])));
