import { describe, expect, it } from 'vitest';
import { SseDecoder } from '../../src/core/model/wire.js';

const enc = new TextEncoder();

/** Feeds `parts` (text, or raw bytes) one push each and collects every event's data. */
function decode(...parts: (string | Uint8Array)[]): string[] {
  const sse = new SseDecoder();
  return parts.flatMap((p) => sse.push(typeof p === 'string' ? enc.encode(p) : p));
}

describe('SseDecoder', () => {
  it('returns the data of each event a blank line ends', () => {
    expect(decode('data: {"a":1}\n\ndata: {"b":2}\n\n')).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('handles \\r\\n and lone \\r line ends, also when a \\r\\n is split between chunks', () => {
    expect(decode('data: one\r\n\r\ndata: two\r\rdata: three\r', '\n\r', '\n')).toEqual(['one', 'two', 'three']);
    expect(decode('data: a\r', '\r', 'data: b\n\n')).toEqual(['a', 'b']);
  });

  it('joins the data lines of one event, takes "data:" without a space and ignores comments and other fields', () => {
    expect(decode(': ping\n\nevent: message\nid: 7\ndata:first\ndata: second\nretry: 10\n\n')).toEqual(['first\nsecond']);
  });

  it('skips events without data and drops an event the stream ends inside', () => {
    expect(decode('event: noop\n\n', 'data: kept\n\n', 'data: cut off\n')).toEqual(['kept']);
  });

  it('keeps a multibyte character split between chunks whole', () => {
    const bytes = enc.encode('data: 🌍é\n\n');
    expect(decode(bytes.slice(0, 8), bytes.slice(8, 11), bytes.slice(11))).toEqual(['🌍é']);
  });
});
