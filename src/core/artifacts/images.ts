/**
 * Images coming in (`send`/`ask`): what callers may pass, and the checks that turn it into either a
 * URL the model fetches itself or bytes to keep as an artifact. Bad input is an InvalidInputError
 * whose message says which image and what to change.
 */
import { InvalidInputError } from '../errors.js';
import { artifactIdOf } from './types.js';

/** An https URL or a data: URL (as a string or `{ url }`), or bytes with their media type. */
export type ImageInput = string | { url: string } | { data: Uint8Array; mediaType: string; name?: string };

export const IMAGE_MEDIA_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;
export type ImageMediaType = (typeof IMAGE_MEDIA_TYPES)[number];

const EXTENSIONS: Record<ImageMediaType, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/webp': 'webp' };
export const imageExtensionFor = (mediaType: ImageMediaType): string => EXTENSIONS[mediaType];

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The image type of `data` by its magic numbers, if it is one the vision models accept. */
export function sniffImageMime(data: Uint8Array): ImageMediaType | undefined {
  if (data.length >= 8 && PNG_MAGIC.every((b, i) => data[i] === b)) return 'image/png';
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'image/jpeg';
  const head = Buffer.from(data.buffer, data.byteOffset, Math.min(12, data.length)).toString('latin1');
  if (head.startsWith('GIF87a') || head.startsWith('GIF89a')) return 'image/gif';
  if (head.startsWith('RIFF') && head.slice(8, 12) === 'WEBP') return 'image/webp';
  return undefined;
}

/** `image/jpg` is what people (and some SDKs) write; the registered type is `image/jpeg`. */
function normaliseMediaType(mediaType: string): string {
  const t = mediaType.trim().toLowerCase().split(';')[0]!.trim();
  return t === 'image/jpg' ? 'image/jpeg' : t;
}

const isImageMediaType = (t: string): t is ImageMediaType => (IMAGE_MEDIA_TYPES as readonly string[]).includes(t);

/** What an input image became: a URL the model fetches, an artifact already kept, or bytes to keep. */
export type CheckedImage =
  | { kind: 'url'; url: string }
  | { kind: 'artifact'; id: string }
  | { kind: 'bytes'; bytes: Uint8Array; mediaType: ImageMediaType; name: string | null };

const ACCEPTED = 'PNG, JPEG, GIF or WebP';
const DATA_URL = /^data:([^;,]*)((?:;[^;,]*)*?);base64,(.*)$/is;

/** Checks one input image (`index` from 0, for the message). Throws InvalidInputError. */
export function checkImageInput(input: ImageInput, maxBytes: number, index: number): CheckedImage {
  const which = `Image ${index + 1}`;
  if (typeof input === 'object' && input !== null && 'data' in input) {
    if (!(input.data instanceof Uint8Array)) throw new InvalidInputError(`${which}: \`data\` must be a Uint8Array (or Buffer) of the image bytes.`);
    return checkBytes(which, input.data, input.mediaType, input.name ?? null, maxBytes);
  }
  const url = typeof input === 'string' ? input : typeof input === 'object' && input !== null && typeof input.url === 'string' ? input.url : undefined;
  if (url === undefined) throw new InvalidInputError(`${which}: give an https URL, a data: URL, or { data, mediaType }.`);
  const ref = url.trim();
  if (/^data:/i.test(ref)) {
    const m = DATA_URL.exec(ref);
    if (!m) throw new InvalidInputError(`${which}: a data: URL must be base64, like data:image/png;base64,iVBOR…`);
    const b64 = m[3]!.replace(/\s+/g, '');
    // Checked before decoding, so an oversized upload costs no memory beyond the string itself.
    if (Math.floor((b64.length * 3) / 4) - 2 > maxBytes) throw tooBig(which, Math.floor((b64.length * 3) / 4), maxBytes);
    return checkBytes(which, Buffer.from(b64, 'base64'), m[1] ?? '', null, maxBytes);
  }
  const artifactId = artifactIdOf(ref);
  if (artifactId) return { kind: 'artifact', id: artifactId };
  let parsed: URL;
  try {
    parsed = new URL(ref);
  } catch {
    throw new InvalidInputError(`${which}: "${ref.slice(0, 80)}" is not a URL; give an https URL, a data: URL, or bytes with a media type.`);
  }
  if (parsed.protocol !== 'https:') {
    throw new InvalidInputError(`${which}: only https URLs are fetched by the model (got ${parsed.protocol}); send the bytes instead.`);
  }
  return { kind: 'url', url: parsed.href };
}

function tooBig(which: string, size: number, maxBytes: number): InvalidInputError {
  return new InvalidInputError(`${which} is ${size} bytes; images may be at most ${maxBytes} bytes (limits.maxImageBytes).`);
}

function checkBytes(which: string, bytes: Uint8Array, declared: string, name: string | null, maxBytes: number): CheckedImage {
  if (bytes.length === 0) throw new InvalidInputError(`${which} is empty.`);
  if (bytes.length > maxBytes) throw tooBig(which, bytes.length, maxBytes);
  const mediaType = normaliseMediaType(declared);
  if (!isImageMediaType(mediaType)) {
    throw new InvalidInputError(`${which}: media type "${declared}" is not accepted; images must be ${ACCEPTED} (${IMAGE_MEDIA_TYPES.join(', ')}).`);
  }
  // The declared type is the sender's word; the bytes decide. A mismatch is refused, not guessed at.
  const actual = sniffImageMime(bytes);
  if (actual !== mediaType) {
    const seen = actual ? `they are ${actual}` : `they are not a ${ACCEPTED} image`;
    throw new InvalidInputError(`${which} is declared ${mediaType} but ${seen}; send a ${ACCEPTED} image with its right media type.`);
  }
  return { kind: 'bytes', bytes, mediaType, name };
}
