/**
 * The code agent's tools: files in the conversation's workspace (files.ts), and running Python or
 * Node code there in a sandbox (run-code.ts, sandbox/).
 */
import { listFilesTool, readFileTool, writeFileTool } from './files.js';
import { runCodeTool } from './run-code.js';

export { MAX_LIST_ENTRIES, MAX_WRITE_BYTES, SNIPPET_PREFIX, listFilesTool, readFileTool, writeFileTool } from './files.js';
export { runCodeTool } from './run-code.js';
export { SandboxUnavailableError } from './sandbox/bubblewrap.js';

/** The code agent's tools. */
export const codeTools = [writeFileTool, readFileTool, listFilesTool, runCodeTool] as const;
