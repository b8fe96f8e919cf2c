/**
 * Every error the engine raises on purpose is a SwitchboardError with a stable `code`,
 * so adapters can branch on the class (or code) and show `message` to a person as it is.
 */
export class SwitchboardError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A configuration file (or value) that cannot be used; names the file and the path inside it. */
export class ConfigError extends SwitchboardError {
  readonly file: string | undefined;
  readonly issues: readonly { path: string; message: string }[];
  constructor(message: string, opts: { file?: string; issues?: { path: string; message: string }[] } = {}) {
    super('config_invalid', message);
    this.file = opts.file;
    this.issues = opts.issues ?? [];
  }
}

/** No credentials or endpoint for the model provider an agent needs. */
export class ModelNotConfiguredError extends SwitchboardError {
  constructor(message: string) {
    super('model_not_configured', message);
  }
}

/** The model API failed after retries (or with an error that retrying cannot fix). */
export class ModelCallError extends SwitchboardError {
  readonly status: number | undefined;
  constructor(message: string, opts: { status?: number; cause?: unknown } = {}) {
    super('model_call_failed', message, { cause: opts.cause });
    this.status = opts.status;
  }
}

export class UnknownAgentError extends SwitchboardError {
  readonly agent: string;
  readonly available: readonly string[];
  constructor(agent: string, available: readonly string[]) {
    super('unknown_agent', `Unknown agent "${agent}". Valid agents: ${available.join(', ') || '(none)'}.`);
    this.agent = agent;
    this.available = available;
  }
}

export class NotFoundError extends SwitchboardError {
  readonly kind: string;
  readonly id: string;
  constructor(kind: string, id: string) {
    super('not_found', `No ${kind} with id "${id}".`);
    this.kind = kind;
    this.id = id;
  }
}

/** The principal may not see or act on this object. Deliberately as vague as NotFound to outsiders. */
export class ForbiddenError extends SwitchboardError {
  constructor(message: string) {
    super('forbidden', message);
  }
}

/**
 * A run step was written for a run whose lease another process now holds (this one's heartbeat came
 * too late and the run was taken over). Nothing was written; this process must stop working on it.
 */
export class LeaseLostError extends SwitchboardError {
  readonly runId: string;
  constructor(runId: string, holder: string | null) {
    super('lease_lost', `Run "${runId}" is now held by ${holder ?? 'no process'}; this process stopped working on it.`);
    this.runId = runId;
  }
}

/**
 * The Switchboard was closed while a caller waited on it (`wait`, `waitForPlan`, `ask`), or was used
 * after `close`. The run or plan is left as it is in the store: another process, or the next start, goes on with it.
 */
export class ClosedError extends SwitchboardError {
  constructor(message = 'Switchboard was closed while waiting; the run or plan goes on when it is opened again (or on another replica).') {
    super('closed', message);
  }
}

/**
 * Something Switchboard itself got wrong: a state its own code should never reach. The message says
 * what; please report it with the stack (`--verbose`).
 */
export class InternalError extends SwitchboardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('internal', `${message} (a bug in Switchboard: please report it)`, options);
  }
}

/** A run ended without an answer: failed, cancelled or stalled. */
export class RunFailedError extends SwitchboardError {
  readonly runId: string;
  readonly status: string;
  constructor(runId: string, status: string, message: string) {
    super('run_failed', message);
    this.runId = runId;
    this.status = status;
  }
}

/**
 * Thrown by a tool to tell the model what went wrong. It goes back to the model as the tool
 * result (so it can correct itself); it never fails the run.
 */
export class ToolError extends SwitchboardError {
  constructor(message: string) {
    super('tool_error', message);
  }
}

export class InvalidInputError extends SwitchboardError {
  constructor(message: string) {
    super('invalid_input', message);
  }
}

/**
 * The store the config names cannot be used: a database that is down or refuses the login, a file
 * that cannot be created, is locked or is not a database. The message says what to check; it never
 * carries the password of a database URL.
 */
export class StoreUnavailableError extends SwitchboardError {
  readonly store: 'sqlite' | 'postgres';
  constructor(store: 'sqlite' | 'postgres', message: string, opts: { cause?: unknown } = {}) {
    super('store_unavailable', message, { cause: opts.cause });
    this.store = store;
  }
}

/**
 * A tool call already has its result: the thread holds one after the newest assistant message (the
 * one that made the call). A store refuses a second one, whoever writes it.
 */
export class DuplicateToolResultError extends SwitchboardError {
  constructor(
    readonly threadId: string,
    readonly toolCallId: string,
  ) {
    super('duplicate_tool_result', `Tool call ${toolCallId} already has its result in thread ${threadId}; a second result was refused.`);
  }
}
