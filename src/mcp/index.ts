/**
 * The MCP adapter's public face: the CLI (and embedders) start a stdio server or mount the HTTP
 * handler; everything else in this folder is internal.
 */
export { serveStdio } from './stdio.js';
export type { StdioServeOptions, StdioServer } from './stdio.js';
export { createMcpHttpHandler, listenHttp } from './http.js';
export type { McpHttpOptions, McpHttpHandler, HttpHost, Route } from './http.js';
export { createMcpServer } from './server.js';
export { describeDeployment, stdioPrincipal, stdioBaseDir, progressIntervalFrom, lazy } from './context.js';
export type { McpDeps } from './context.js';
export { McpConfigSchema, mcpConfig } from './config.js';
export type { McpConfig } from './config.js';
export { isLoopback } from './guard.js';
