/**
 * Messages longer than Teams takes in one activity (about 100 KB counted in UTF-16, 80 KB recommended;
 * over it the connector answers 413 MessageSizeTooBig and the reply is lost): the text goes in pieces, in
 * order, cut at paragraph, line or word boundaries (code fences closed and reopened).
 */
import type { Activity } from 'botbuilder';
import { splitText } from '../shared/split-text.js';
import type { Target, TeamsConnector } from './connector.js';

/** The longest text one message carries (UTF-16: ~24 KB, room left for the rest of the activity). */
export const MAX_MESSAGE_CHARS = 12_000;

export interface LongMessage {
  text?: string;
  attachments?: Activity['attachments'];
  /** On every piece (the AI label belongs on each). */
  entities?: Activity['entities'];
}

/** The first piece of a text too long for one message. */
export const firstPiece = (text: string, max = MAX_MESSAGE_CHARS): string => splitText(text, max)[0] ?? '';

/** Sends the message in as many pieces as its text needs, attachments on the last; returns the last one's id. */
export async function sendLong(connector: TeamsConnector, target: Target, m: LongMessage, max = MAX_MESSAGE_CHARS): Promise<string> {
  const pieces: (string | undefined)[] = m.text ? splitText(m.text, max) : [undefined];
  let id = '';
  for (const [i, text] of pieces.entries()) {
    const last = i === pieces.length - 1;
    id = await connector.send(target, { type: 'message', text, ...(last && m.attachments ? { attachments: m.attachments } : {}), ...(m.entities ? { entities: m.entities } : {}) });
  }
  return id;
}
