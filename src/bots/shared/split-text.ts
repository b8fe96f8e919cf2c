/**
 * Splitting long text for chat surfaces with per-block limits (Slack: 3,000 characters per section,
 * 12,000 per markdown block; Teams: ~28 KB per activity). Pieces break at paragraph, then line, then
 * word boundaries; a Markdown code fence cut in two is closed and reopened so both halves render.
 */

/** Splits `text` into pieces of at most `max` characters (never splitting a surrogate pair). */
export function splitText(text: string, max: number): string[] {
  if (max < 16) throw new RangeError(`splitText: max must be at least 16 (got ${max}).`);
  const pieces: string[] = [];
  let rest = text;
  let reopen = '';
  while (rest.length > 0) {
    const budget = max - reopen.length;
    if (rest.length <= budget) {
      pieces.push(reopen + rest);
      break;
    }
    // Room for a closing fence, should this piece end inside one.
    const cut = breakPoint(rest, budget - 4);
    let piece = rest.slice(0, cut);
    rest = rest.slice(cut).replace(/^\n+/, '');
    const fence = openFence(reopen + piece);
    if (fence !== null) {
      piece += '\n```';
      pieces.push(reopen + piece);
      reopen = fence + '\n';
    } else {
      pieces.push(reopen + piece);
      reopen = '';
    }
  }
  return pieces;
}

/** Shortens to `max` characters with an ellipsis, at a word boundary when one is near. */
export function shorten(text: string, max: number): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false };
  const room = Math.max(1, max - 1);
  let cut = text.lastIndexOf(' ', room);
  if (cut < room * 0.7) cut = room;
  cut = safeCut(text, cut);
  return { text: text.slice(0, cut).trimEnd() + '…', truncated: true };
}

function breakPoint(text: string, limit: number): number {
  const window = text.slice(0, limit);
  for (const sep of ['\n\n', '\n', ' ']) {
    const at = window.lastIndexOf(sep);
    // Only a break in the second half: otherwise pieces get tiny.
    if (at >= limit / 2) return at + (sep === ' ' ? 1 : 0);
  }
  return safeCut(text, limit);
}

/** Steps back off the middle of a surrogate pair. */
function safeCut(text: string, at: number): number {
  const code = text.charCodeAt(at - 1);
  return code >= 0xd800 && code <= 0xdbff ? at - 1 : at;
}

/** The opening fence line (e.g. "```ts") when `text` ends inside a code block, else null. */
function openFence(text: string): string | null {
  let open: string | null = null;
  for (const line of text.split('\n')) {
    const m = /^\s*(```\S*)/.exec(line);
    if (!m) continue;
    open = open === null ? m[1]! : null;
  }
  return open;
}
