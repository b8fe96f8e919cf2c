/**
 * Resources: `switchboard://agents` (who is on the team), `switchboard://conversations/{id}` (a
 * readable transcript of every thread, for the principal's own conversations only),
 * `switchboard://artifacts/{id}` (a generated or received image, as a blob) and, when plans
 * exist, `switchboard://plans/{id}` (JSON).
 */
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { ForbiddenError, mayAccess, NotFoundError, type Switchboard } from '../index.js';
import type { McpDeps } from './context.js';
import { askToolName, TEAM_TOOL } from './catalog.js';
import { transcriptMarkdown } from './transcript.js';

/** MCP's "resource not found" code. */
export const RESOURCE_NOT_FOUND = -32002;

const CONVERSATION_LIST_LIMIT = 50;

export function notFound(kind: string, id: string): McpError {
  return new McpError(RESOURCE_NOT_FOUND, `No ${kind} "${id}" (or it belongs to someone else).`, { kind, id });
}

/** Maps the core's "not yours / not there" to the resource-not-found error; other errors pass. */
export async function orNotFound<T>(kind: string, id: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof NotFoundError || err instanceof ForbiddenError) throw notFound(kind, id);
    throw err;
  }
}

export function registerResources(server: McpServer, deps: McpDeps): void {
  server.registerResource(
    'agents',
    'switchboard://agents',
    {
      title: 'Agents',
      description: 'The agents of this Switchboard: name, role, description, tools, and the MCP tool that reaches each.',
      mimeType: 'application/json',
    },
    async (uri) => {
      const agents = deps.agents.list().map((a) => ({
        name: a.name,
        role: a.role,
        description: a.description,
        model: a.model,
        tools: a.tools,
        mcp_tool: a.role === 'proxy' ? TEAM_TOOL : a.role === 'specialist' ? askToolName(a.name) : null,
      }));
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ agents }, null, 2) }] };
    },
  );

  server.registerResource(
    'conversation',
    new ResourceTemplate('switchboard://conversations/{id}', {
      list: async () => {
        const sb = await deps.switchboard();
        const mine = await ownConversations(sb, deps);
        return {
          resources: mine.map((c) => ({
            uri: `switchboard://conversations/${c.id}`,
            name: c.title ?? c.id,
            description: `Conversation started ${new Date(c.createdAt).toISOString()}`,
            mimeType: 'text/markdown',
          })),
        };
      },
    }),
    {
      title: 'Conversation transcript',
      description: 'Every thread of one of your conversations (the team lead and each specialist), as markdown.',
      mimeType: 'text/markdown',
    },
    async (uri, variables) => {
      const id = decodeURIComponent(String(variables.id ?? ''));
      const sb = await deps.switchboard();
      const conversation = await orNotFound('conversation', id, () => sb.getConversation(id, deps.principal));
      const text = transcriptMarkdown(conversation, await sb.transcript(conversation.id));
      return { contents: [{ uri: uri.href, mimeType: 'text/markdown', text }] };
    },
  );

  server.registerResource(
    'artifact',
    // Not listed: artifacts are many; their ids arrive in tool results and transcripts.
    new ResourceTemplate('switchboard://artifacts/{id}', { list: undefined }),
    { title: 'Artifact', description: 'An image the team generated or was sent in one of your conversations (base64 blob).' },
    async (uri, variables) => {
      const id = decodeURIComponent(String(variables.id ?? ''));
      const sb = await deps.switchboard();
      const { artifact, bytes } = await orNotFound('artifact', id, () => sb.readArtifact(id, deps.principal));
      const blob = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
      return { contents: [{ uri: uri.href, mimeType: artifact.mediaType, blob }] };
    },
  );
}

async function ownConversations(sb: Switchboard, deps: McpDeps) {
  const { principal } = deps;
  const list = await sb.store.listConversations({ ownerSurface: principal.surface, ownerUserId: principal.userId, limit: CONVERSATION_LIST_LIMIT });
  return list.filter((c) => mayAccess(c, principal));
}
