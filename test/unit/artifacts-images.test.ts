import { describe, expect, it } from 'vitest';
import { checkImageInput, sniffImageMime } from '../../src/core/artifacts/images.js';
import { InvalidInputError } from '../../src/core/errors.js';
import { TINY_PNG_B64 } from '../support/fake-openai.js';

const PNG = Buffer.from(TINY_PNG_B64, 'base64');
const GIF = Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1');
const WEBP = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBPVP8 ')]);
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xdb, 0, 0x43]);

describe('image input checks', () => {
  it('knows the four accepted types by their magic bytes, and nothing else', () => {
    expect([PNG, JPEG, GIF, WEBP].map(sniffImageMime)).toEqual(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
    expect(sniffImageMime(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeUndefined();
    expect(sniffImageMime(Buffer.from('RIFF....WAVE'))).toBeUndefined();
    expect(sniffImageMime(new Uint8Array([0x89, 0x50]))).toBeUndefined();
  });

  it('keeps bytes whose declared type matches (image/jpg read as image/jpeg), on a subarray too', () => {
    expect(checkImageInput({ data: JPEG, mediaType: 'image/jpg', name: 'a.jpg' }, 100, 0)).toEqual({ kind: 'bytes', bytes: JPEG, mediaType: 'image/jpeg', name: 'a.jpg' });
    const inside = new Uint8Array(Buffer.concat([Buffer.alloc(3), GIF])).subarray(3);
    expect(checkImageInput({ data: inside, mediaType: 'IMAGE/GIF' }, 100, 0)).toMatchObject({ kind: 'bytes', mediaType: 'image/gif', name: null });
  });

  it('turns a data: URL into bytes and leaves https URLs and artifact references as references', () => {
    expect(checkImageInput(`data:image/webp;base64,${WEBP.toString('base64')}`, 100, 0)).toMatchObject({ kind: 'bytes', mediaType: 'image/webp' });
    expect(checkImageInput({ url: 'https://example.com/a b.png' }, 100, 0)).toEqual({ kind: 'url', url: 'https://example.com/a%20b.png' });
    expect(checkImageInput('switchboard://artifacts/art_abc123', 100, 0)).toEqual({ kind: 'artifact', id: 'art_abc123' });
  });

  it('says which image is wrong and what to do', () => {
    const fails = (input: Parameters<typeof checkImageInput>[0], max = 1000) => {
      try {
        checkImageInput(input, max, 2);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidInputError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(fails({ data: PNG, mediaType: 'image/png' }, 10)).toBe(`Image 3 is ${PNG.length} bytes; images may be at most 10 bytes (limits.maxImageBytes).`);
    expect(fails(`data:image/png;base64,${'A'.repeat(4000)}`)).toMatch(/^Image 3 is 3000 bytes; images may be at most 1000 bytes/);
    expect(fails({ data: new Uint8Array(), mediaType: 'image/png' })).toBe('Image 3 is empty.');
    expect(fails({ data: PNG, mediaType: 'image/svg+xml' })).toMatch(/media type "image\/svg\+xml" is not accepted/);
    expect(fails({ data: PNG, mediaType: 'image/gif' })).toBe('Image 3 is declared image/gif but they are image/png; send a PNG, JPEG, GIF or WebP image with its right media type.');
    expect(fails('data:image/png,not-base64')).toMatch(/must be base64/);
    expect(fails('ftp://example.com/a.png')).toMatch(/only https URLs are fetched by the model \(got ftp:\)/);
    expect(fails('a.png')).toMatch(/"a.png" is not a URL/);
    expect(fails({ data: 'iVBOR' as unknown as Uint8Array, mediaType: 'image/png' })).toMatch(/must be a Uint8Array/);
  });
});
