/**
 * Images in and out of Teams.
 * In: inline images and attachments are fetched with the bot's token — sent only to the activity's own
 * service URL (its `serviceurl` claim was checked with the token) and to hosts only Microsoft can name
 * (a token must never reach a URL someone put in an activity: no `*.trafficmanager.net` or
 * `*.cloudapp.azure.com`, whose names any Azure customer picks); personal-chat files arrive as
 * `download.info` with a pre-signed URL (no token). Anonymous development mode fetches from loopback only.
 * Out: an image artifact goes back as an inline attachment when it fits Teams' message size.
 */
import type { Activity, Attachment } from 'botbuilder';
import { isLoopbackUrl } from './config.js';
import type { ImageInput } from './engine.js';

const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
/** Exact names, and suffixes (leading dot) of zones whose every name is Microsoft's own. */
const TOKEN_HOSTS = ['smba.trafficmanager.net', '.botframework.com', '.botframework.us', '.botframework.azure.us', '.skype.com', '.teams.microsoft.com', '.teams.microsoft.us'];
const PRESIGNED_HOSTS = ['.sharepoint.com', '.sharepoint-df.com', '.microsoft.com', '.microsoftpersonalcontent.com', '.office.com'];
const DOWNLOAD_INFO = 'application/vnd.microsoft.teams.file.download.info';
const EXT_TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp' };

function hostIn(url: string, names: readonly string[]): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' && names.some((s) => (s.startsWith('.') ? u.hostname === s.slice(1) || u.hostname.endsWith(s) : u.hostname === s));
  } catch {
    return false;
  }
}

function sameOrigin(url: string, base: string | undefined): boolean {
  try {
    return !!base && new URL(url).origin === new URL(base).origin;
  } catch {
    return false;
  }
}

export interface ImageFetchOptions {
  anonymous: boolean;
  /** The activity's service URL (authenticated mode: the token's `serviceurl` claim vouches for it). */
  serviceUrl?: string;
  token: () => Promise<string | null>;
  maxBytes: number;
  fetch?: typeof fetch;
}

export interface ImageIntake {
  images: ImageInput[];
  /** One line per attachment we could not take, for the reply. */
  skipped: string[];
}

export async function imagesOf(activity: Partial<Activity>, opts: ImageFetchOptions): Promise<ImageIntake> {
  const out: ImageIntake = { images: [], skipped: [] };
  const doFetch = opts.fetch ?? fetch;
  for (const a of activity.attachments ?? []) {
    const plan = planDownload(a, opts.anonymous, opts.serviceUrl);
    if (!plan) continue;
    if ('refused' in plan) {
      out.skipped.push(plan.refused);
      continue;
    }
    try {
      const headers: Record<string, string> = {};
      if (plan.withToken) {
        const token = await opts.token();
        if (token) headers.authorization = `Bearer ${token}`;
      }
      const res = await doFetch(plan.url, { headers, redirect: plan.withToken ? 'manual' : 'follow' });
      if (!res.ok) {
        out.skipped.push(`${a.name ?? 'image'}: download failed (${res.status})`);
        continue;
      }
      const declared = Number(res.headers.get('content-length') ?? '0');
      if (declared > opts.maxBytes) {
        out.skipped.push(`${a.name ?? 'image'}: larger than ${Math.round(opts.maxBytes / 1_000_000)} MB`);
        continue;
      }
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (bytes.byteLength > opts.maxBytes) {
        out.skipped.push(`${a.name ?? 'image'}: larger than ${Math.round(opts.maxBytes / 1_000_000)} MB`);
        continue;
      }
      const mediaType = plan.mediaType ?? res.headers.get('content-type')?.split(';')[0]?.trim() ?? 'application/octet-stream';
      if (!IMAGE_TYPES.has(mediaType)) {
        out.skipped.push(`${a.name ?? 'file'}: not an image (${mediaType})`);
        continue;
      }
      out.images.push({ data: bytes, mediaType, ...(a.name ? { name: a.name } : {}) });
    } catch (err) {
      out.skipped.push(`${a.name ?? 'image'}: ${(err as Error).message}`);
    }
  }
  return out;
}

type Download = { url: string; withToken: boolean; mediaType?: string } | { refused: string } | null;

function planDownload(a: Attachment, anonymous: boolean, serviceUrl: string | undefined): Download {
  if (a.contentType === DOWNLOAD_INFO) {
    const c = (a.content ?? {}) as { downloadUrl?: string; fileType?: string };
    const mediaType = EXT_TYPES[(c.fileType ?? '').toLowerCase()];
    if (!mediaType || !c.downloadUrl) return null;
    if (hostIn(c.downloadUrl, PRESIGNED_HOSTS) || (anonymous && isLoopbackUrl(c.downloadUrl))) return { url: c.downloadUrl, withToken: false, mediaType };
    return { refused: `${a.name ?? 'file'}: not downloaded (unexpected host)` };
  }
  if (!a.contentType?.startsWith('image/') || !a.contentUrl) return null;
  if (a.contentUrl.startsWith('data:')) return null;
  if (anonymous) return isLoopbackUrl(a.contentUrl) ? { url: a.contentUrl, withToken: false } : { refused: `${a.name ?? 'image'}: not downloaded (anonymous mode fetches from loopback only)` };
  if (hostIn(a.contentUrl, TOKEN_HOSTS) || sameOrigin(a.contentUrl, serviceUrl)) return { url: a.contentUrl, withToken: true };
  return { refused: `${a.name ?? 'image'}: not downloaded (the bot's token goes to Microsoft hosts only)` };
}

/** An artifact as a Teams attachment, inline when it fits; null when it is too big to send that way. */
export function imageAttachment(bytes: Uint8Array, mediaType: string, name: string | null, maxInlineBytes: number): Attachment | null {
  if (bytes.byteLength > maxInlineBytes) return null;
  return { contentType: mediaType, contentUrl: `data:${mediaType};base64,${Buffer.from(bytes).toString('base64')}`, ...(name ? { name } : {}) };
}
