/**
 * Files in and out. In: images attached to a message are downloaded from `url_private` with the bot
 * token — sent only to Slack's file host (config `fileHosts`), never to a URL a message merely names.
 * Out: images the agents make are uploaded into the thread with the external upload flow
 * (files.getUploadURLExternal, POST, files.completeUploadExternal with `thread_ts`).
 */
import type { WebClient } from '@slack/web-api';
import { SwitchboardError, type ImageInput, type Logger } from '../../index.js';

export interface SlackFile {
  id?: string;
  name?: string;
  mimetype?: string;
  size?: number;
  url_private?: string;
  url_private_download?: string;
}

export class UntrustedFileHostError extends SwitchboardError {
  constructor(readonly host: string) {
    super('slack_untrusted_file_host', `A Slack file named the host "${host}", which is not a Slack file host (slack.fileHosts): the bot token is not sent there.`);
  }
}

const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

export interface FileOptions {
  fileHosts: string[];
  maxBytes: number;
  logger: Logger;
  fetch?: typeof fetch;
}

/** The images of a message as image inputs; files that are not images, too big or untrusted are skipped (and logged). */
export async function downloadImages(files: SlackFile[] | undefined, token: string, opts: FileOptions): Promise<{ images: ImageInput[]; skipped: string[] }> {
  const images: ImageInput[] = [];
  const skipped: string[] = [];
  for (const f of files ?? []) {
    const name = f.name ?? f.id ?? 'file';
    if (!f.mimetype || !IMAGE_TYPES.has(f.mimetype)) continue;
    if ((f.size ?? 0) > opts.maxBytes) {
      skipped.push(`${name} is larger than ${opts.maxBytes} bytes`);
      continue;
    }
    const url = f.url_private_download ?? f.url_private;
    if (!url) continue;
    try {
      const data = await download(url, token, opts);
      images.push({ data, mediaType: f.mimetype, name });
    } catch (err) {
      opts.logger.warn('Slack file not downloaded', { file: f.id, error: err });
      skipped.push(`${name} could not be read`);
    }
  }
  return { images, skipped };
}

async function download(url: string, token: string, opts: FileOptions): Promise<Uint8Array> {
  const host = new URL(url).host;
  if (!opts.fileHosts.includes(host)) throw new UntrustedFileHostError(host);
  // Redirects are not followed: a redirect could carry the token elsewhere.
  const res = await (opts.fetch ?? fetch)(url, { headers: { authorization: `Bearer ${token}` }, redirect: 'manual' });
  const type = res.headers.get('content-type') ?? '';
  // Slack answers a download it refuses with its sign-in page (200, text/html).
  if (res.status !== 200 || type.startsWith('text/html')) throw new SwitchboardError('slack_file_refused', `Slack refused the file download (${res.status} ${type}).`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.length > opts.maxBytes) throw new SwitchboardError('slack_file_too_large', `The file has ${bytes.length} bytes; the limit is ${opts.maxBytes}.`);
  return bytes;
}

/** Uploads one image into the thread (the external upload flow). */
export async function uploadImage(client: WebClient, target: { channel: string; threadTs: string }, file: { bytes: Uint8Array; name: string; title?: string }): Promise<void> {
  await client.filesUploadV2({
    channel_id: target.channel,
    thread_ts: target.threadTs,
    file: Buffer.from(file.bytes),
    filename: file.name,
    ...(file.title ? { title: file.title } : {}),
  });
}
