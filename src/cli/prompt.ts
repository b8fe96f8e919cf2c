import { createInterface, type Interface } from 'node:readline';

/** Lines typed at a terminal (after a prompt each) or piped in (one line each). */
export interface Answers {
  /**
   * Writes `prompt` and resolves with the next line, trimmed; null when the input has ended or
   * `signal` aborted. A line that arrives after an abort is kept for the next call.
   */
  next(prompt: string, signal?: AbortSignal): Promise<string | null>;
  close(): void;
}

export interface AnswersOptions {
  /** A person at a terminal: line editing, prompts redrawn. Otherwise piped lines, echoed after a prompt. */
  interactive: boolean;
  input?: NodeJS.ReadableStream;
  /** Where prompts go: stdout for `chat` and `plan`; stderr for `run`, whose stdout is the reply. */
  output?: NodeJS.WritableStream;
}

export function answers(opts: AnswersOptions): Answers {
  const output = opts.output ?? process.stdout;
  let rl: Interface | null = null;
  let lines: AsyncIterator<string> | null = null;
  // Made on the first question: a terminal in raw mode from the start would change how Ctrl-C works for commands that never ask.
  const open = (): { rl: Interface; lines: AsyncIterator<string> } => {
    if (rl && lines) return { rl, lines };
    // A terminal interface needs its output: without one, readline shows neither the prompt nor what is typed.
    rl = createInterface({ input: opts.input ?? process.stdin, output: opts.interactive ? output : undefined, terminal: opts.interactive });
    // In raw mode Ctrl-C reaches readline, not the process: let it stop the command as it does elsewhere.
    rl.on('SIGINT', () => process.kill(process.pid, 'SIGINT'));
    lines = rl[Symbol.asyncIterator]();
    return { rl, lines };
  };
  let pending: Promise<IteratorResult<string>> | null = null;
  return {
    async next(prompt, signal) {
      if (signal?.aborted) return null;
      const { rl, lines } = open();
      if (opts.interactive) {
        // readline redraws its prompt while a line is edited: give it the last line of ours.
        const nl = prompt.lastIndexOf('\n');
        output.write(prompt.slice(0, nl + 1));
        rl.setPrompt(prompt.slice(nl + 1));
        rl.prompt();
      } else {
        output.write(prompt);
      }
      const read = (pending ??= lines.next());
      let onAbort = () => {};
      const aborted = new Promise<null>((resolve) => {
        onAbort = () => resolve(null);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      const result = await Promise.race([read, aborted]);
      signal?.removeEventListener('abort', onAbort);
      if (result === null) {
        output.write('\n');
        return null;
      }
      pending = null;
      if (result.done) {
        if (prompt) output.write('\n');
        return null;
      }
      if (!opts.interactive && prompt) output.write(`${result.value}\n`);
      return String(result.value).trim();
    },
    close: () => rl?.close(),
  };
}

export type Reply = { kind: 'approve'; feedback?: string; action?: string } | { kind: 'reject'; feedback?: string } | { kind: 'cancel' } | { kind: 'unclear' };

/** `y [feedback]`, `n [feedback]`, `e <new action>` (when editing is offered), `c`. */
export function parseAnswer(answer: string, edit: boolean): Reply {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(answer.trim());
  if (!m) return { kind: 'unclear' };
  const word = m[1]!.toLowerCase();
  const rest = m[2]!.trim() || undefined;
  if (word === 'y' || word === 'yes') return { kind: 'approve', feedback: rest };
  if (word === 'n' || word === 'no') return { kind: 'reject', feedback: rest };
  if ((word === 'e' || word === 'edit') && edit && rest) return { kind: 'approve', action: rest };
  if (word === 'c' || word === 'cancel') return { kind: 'cancel' };
  return { kind: 'unclear' };
}
