/**
 * What a run tree is doing, surface-neutral: one status line per agent, a task list of delegations and
 * tool calls, and the root run's text so far. Slack turns it into task chunks and a status, Teams into
 * informative stream updates and a working card; both feed it the events of `follow(runId)` in order.
 */
import type { SwitchboardEvent } from '../../index.js';

export type TaskState = 'running' | 'done' | 'failed' | 'waiting';

export interface TaskItem {
  id: string;
  kind: 'delegation' | 'tool';
  /** Who does it: the recipient of a delegation, the agent calling a tool. */
  agent: string;
  title: string;
  state: TaskState;
  depth: number;
}

export interface AgentStatus {
  agent: string;
  depth: number;
  line: string;
  at: number;
}

export type RunEnd = { kind: 'completed'; reply: string } | { kind: 'failed'; error: string } | { kind: 'cancelled'; reason: string };

export type Describe = (event: SwitchboardEvent) => string | null;

export class EventView {
  readonly #describe: Describe;
  readonly #tasks = new Map<string, TaskItem>();
  readonly #agents = new Map<string, AgentStatus>();
  #rootRunId: string | null = null;
  #committed = '';
  #current = '';
  #latest: string | null = null;
  #waiting = 0;
  #ended: RunEnd | null = null;

  constructor(describe: Describe, rootRunId?: string) {
    this.#describe = describe;
    this.#rootRunId = rootRunId ?? null;
  }

  /** Applies one event; returns what changed, so a surface updates only what it shows. */
  apply(e: SwitchboardEvent): { text: boolean; status: boolean; ended: boolean } {
    const changed = { text: false, status: false, ended: false };
    const root = this.#rootRunId === null ? e.depth === 0 : e.runId === this.#rootRunId;
    switch (e.type) {
      case 'text.delta':
        if (root) {
          this.#current += e.delta;
          changed.text = true;
        }
        break;
      case 'text.reset':
        if (root) {
          this.#current = '';
          changed.text = true;
        }
        break;
      case 'tool.call':
        if (root) {
          this.#committed = joinText(this.#committed, this.#current);
          this.#current = '';
        }
        if (e.name !== 'send_message') this.#tasks.set(e.toolCallId, { id: e.toolCallId, kind: 'tool', agent: e.agent, title: e.name, state: 'running', depth: e.depth });
        break;
      case 'tool.result': {
        const t = this.#tasks.get(e.toolCallId);
        if (t) t.state = e.isError ? 'failed' : 'done';
        break;
      }
      case 'delegation.started':
        this.#tasks.set(e.toolCallId, { id: e.toolCallId, kind: 'delegation', agent: e.recipient, title: oneLine(e.message, 80), state: 'running', depth: e.depth + 1 });
        break;
      case 'delegation.finished': {
        const t = this.#tasks.get(e.toolCallId);
        if (t) t.state = e.ok ? 'done' : 'failed';
        break;
      }
      case 'approval.requested':
        this.#waiting++;
        break;
      case 'approval.decided':
        this.#waiting = Math.max(0, this.#waiting - 1);
        break;
      case 'run.completed':
      case 'run.failed':
      case 'run.cancelled':
        if (root) {
          this.#ended = e.type === 'run.completed' ? { kind: 'completed', reply: e.reply } : e.type === 'run.failed' ? { kind: 'failed', error: e.error } : { kind: 'cancelled', reason: e.reason };
          changed.ended = true;
        }
        break;
      default:
        break;
    }
    const line = this.#describe(e);
    if (line) {
      this.#agents.set(e.agent, { agent: e.agent, depth: e.depth, line, at: e.at });
      if (line !== this.#latest) {
        this.#latest = line;
        changed.status = true;
      }
    }
    return changed;
  }

  /** The root run's text as shown so far (text before tool calls kept, a broken attempt dropped). */
  text(): string {
    return joinText(this.#committed, this.#current);
  }

  /** The newest one-line description ("vision_agent is looking at the image…"). */
  status(): string | null {
    return this.#latest;
  }

  agents(): AgentStatus[] {
    return [...this.#agents.values()].sort((a, b) => a.depth - b.depth || a.at - b.at);
  }

  tasks(): TaskItem[] {
    return [...this.#tasks.values()];
  }

  /** An approval somewhere in the tree waits for a person. */
  waiting(): boolean {
    return this.#waiting > 0;
  }

  /** How the root run ended, once it has. */
  ended(): RunEnd | null {
    return this.#ended;
  }
}

function joinText(a: string, b: string): string {
  if (!a) return b;
  if (!b) return a;
  return `${a.trimEnd()}\n\n${b.trimStart()}`;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : flat.slice(0, max - 1).trimEnd() + '…';
}

/** "✓ vision_agent: describe the image" — one line per task, indented by depth. */
export function taskLines(tasks: readonly TaskItem[]): string[] {
  const mark: Record<TaskState, string> = { running: '⏳', done: '✓', failed: '✗', waiting: '⏸' };
  return tasks.map((t) => `${'  '.repeat(Math.max(0, t.depth - 1))}${mark[t.state]} ${t.agent}: ${t.title}`);
}
