/**
 * The built-in specialist tools. Agents name the ones they may call in `tools`.
 * (The proxy's `send_message` delegation tool lives in src/core/runs.)
 */
import type { ToolDefinition } from '../runs/tool.js';
import { codeTools } from './code.js';
import { imageTools } from './images.js';
import { visionTools } from './vision.js';

export { codeTools, listFilesTool, readFileTool, runCodeTool, writeFileTool } from './code.js';
export { generateImageTool, imageTools } from './images.js';
export { analyzeImageTool, visionTools } from './vision.js';
export { ensureWorkspace, resolveInWorkspace, workspaceRelative } from './workspace.js';

export const builtinTools: ToolDefinition[] = [...codeTools, ...imageTools, ...visionTools];

export function builtinToolNames(): string[] {
  return builtinTools.map((t) => t.name);
}

/** Tools the engine itself provides to agents (they need the engine, so they are made with it). */
export const ENGINE_TOOL_NAMES = ['send_message', 'create_plan'] as const;

/** Every tool name an agent may list: built-ins, engine tools, and any registered in code. */
export function knownToolNames(extra: Iterable<string> = []): Set<string> {
  return new Set([...builtinToolNames(), ...ENGINE_TOOL_NAMES, ...extra]);
}
