/** How a tool call that needs approval is shown to the person who decides it. */

const MAX_CODE = 4_000;
const MAX_ARGS = 1_000;

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}… [${s.length - n} more characters]` : s;
}

/**
 * `code_agent (asked by proxy) wants to run python code:` and the code, or a generic line with the
 * arguments for other tools.
 */
export function describeToolCall(agent: string, tool: string, args: unknown, askedBy?: string): string {
  const who = askedBy ? `${agent} (asked by ${askedBy})` : agent;
  const a = (typeof args === 'object' && args !== null ? args : {}) as Record<string, unknown>;
  const argv = Array.isArray(a.args) && a.args.length ? ` with arguments ${a.args.map(String).join(' ')}` : '';
  if (tool === 'run_code' && typeof a.code === 'string') {
    return `${who} wants to run ${String(a.language ?? '')} code${argv}:\n${clip(a.code, MAX_CODE)}`;
  }
  if (tool === 'run_code' && typeof a.file === 'string') {
    return `${who} wants to run the ${String(a.language ?? '')} file ${a.file}${argv}.`;
  }
  if (tool === 'write_file' && typeof a.path === 'string') {
    const size = typeof a.content === 'string' ? ` (${Buffer.byteLength(a.content, 'utf8')} bytes)` : '';
    return `${who} wants to write the file ${a.path}${size}.`;
  }
  return `${who} wants to call ${tool} with ${clip(JSON.stringify(args) ?? 'no arguments', MAX_ARGS)}`;
}
