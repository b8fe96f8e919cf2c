import { describeEvent, type Switchboard, type SwitchboardEvent, type SwitchboardEventType } from '../index.js';

export interface ProgressOptions {
  /** Where team activity goes (stderr for `run`, stdout for `chat`). */
  out: NodeJS.WritableStream;
  /** Stream the top-level reply's text to stdout as it arrives. */
  streamReply: boolean;
  color?: boolean;
}

/**
 * A multi-line text (an approval's summary: a head line, then the code) shortened for a terminal:
 * at most `maxLines` lines after the head, each at most `width` characters, indented by `indent`.
 */
export function clipLines(text: string, opts: { maxLines?: number; width?: number; indent?: string } = {}): string {
  const { maxLines = 12, width = 160, indent = '  ' } = opts;
  const [head = '', ...body] = text.replace(/\s+$/, '').split('\n');
  const cut = (l: string) => (l.length > width ? l.slice(0, width - 1) + '…' : l);
  const shown = body.slice(0, maxLines).map((l) => indent + cut(l));
  if (body.length > maxLines) shown.push(`${indent}… ${body.length - maxLines} more lines (\`switchboard approvals\` shows them all)`);
  return [cut(head), ...shown].join('\n');
}

/** Events shown as a line of the team view, nested under their run (the face words them: `describeEvent`). */
const TEAM_VIEW = new Set<SwitchboardEventType>(['delegation.started', 'delegation.finished', 'tool.call', 'tool.result', 'tool.progress']);

/**
 * Shows the team at work in a terminal: the reply streaming in, and a line for each delegation,
 * tool call and failure, indented by delegation depth. Approvals are not shown here: every command
 * that waits for one shows it, with how to decide it (`watchApprovals`, `plan`). Returns a function that stops it.
 */
export function attachProgress(sb: Switchboard, conversationId: string, opts: ProgressOptions): () => void {
  const color = opts.color ?? Boolean((opts.out as NodeJS.WriteStream).isTTY);
  const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[22m` : s);
  const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[22m` : s);
  let midLine = false;
  const line = (depth: number, text: string) => {
    if (midLine) {
      process.stdout.write('\n');
      midLine = false;
    }
    opts.out.write(dim(`${'  '.repeat(depth + 1)}${text}`) + '\n');
  };
  const onEvent = (e: SwitchboardEvent) => {
    switch (e.type) {
      case 'text.delta':
        if (e.depth === 0 && opts.streamReply) {
          if (!midLine) process.stdout.write(bold(`${e.agent}> `));
          process.stdout.write(e.delta);
          midLine = true;
        }
        break;
      case 'text.reset':
        // The text streamed so far was a broken answer that is being retried: say so, then the retry streams anew.
        if (e.depth === 0 && opts.streamReply && midLine) line(e.depth, '(the answer broke off; asking the model again)');
        break;
      case 'run.failed':
        // The top-level failure is the command's own one-line report.
        if (e.depth > 0) line(e.depth, describeEvent(e, { nested: true })!);
        break;
      case 'run.completed':
        if (e.depth === 0 && midLine) {
          process.stdout.write('\n');
          midLine = false;
        }
        break;
      default: {
        const text = TEAM_VIEW.has(e.type) ? describeEvent(e, { nested: true }) : null;
        if (text) line(e.depth, text);
        break;
      }
    }
  };
  const off = sb.on(conversationId, onEvent);
  return () => {
    off();
    if (midLine) process.stdout.write('\n');
    midLine = false;
  };
}
