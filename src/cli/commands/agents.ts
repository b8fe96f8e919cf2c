import { loadConfig, parse } from '../common.js';
import { AgentRegistry, knownToolNames } from '../../index.js';

const HELP = `Usage: switchboard agents [--config FILE] [--json]

Lists the agents of this deployment: name, role, model (and provider), tools, description.`;

export default async function agents(argv: string[]): Promise<number> {
  const { values } = parse('agents', argv, { json: { type: 'boolean' } }, false);
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const config = loadConfig(values.config);
  const registry = AgentRegistry.fromConfig(config, knownToolNames());
  const list = registry.list();
  if (values.json) {
    process.stdout.write(JSON.stringify(list, null, 2) + '\n');
    return 0;
  }
  const rows = list.map((a) => [a.name, a.role, `${a.model}${a.provider && a.provider !== 'default' ? ` @${a.provider}` : ''}`, a.tools.join(', ') || '-']);
  const head = ['AGENT', 'ROLE', 'MODEL', 'TOOLS'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [line(head), ...rows.map(line), ''];
  for (const a of list) out.push(`${a.name}: ${a.description}`);
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
