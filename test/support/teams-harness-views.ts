/** Reading cards and connector calls in tests: text of a card, its buttons, one line per call. */
/** The Adaptive Card in a recorded connector call, if it carries one. */
export function cardOf(body: Record<string, unknown>): Record<string, unknown> | null {
  const a = (body.attachments as { contentType: string; content: Record<string, unknown> }[] | undefined)?.find((x) => x.contentType === 'application/vnd.microsoft.card.adaptive');
  return a?.content ?? null;
}

/** Every TextBlock text in a card, joined (for readable assertions). */
export function cardText(card: unknown): string {
  const out: string[] = [];
  const walk = (n: unknown) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (n && typeof n === 'object') {
      const o = n as Record<string, unknown>;
      if (o.type === 'TextBlock' && typeof o.text === 'string') out.push(o.text);
      for (const [k, v] of Object.entries(o)) if (k !== 'text') walk(v);
    }
  };
  walk(card);
  return out.join('\n');
}

/** Verbs of the Action.Execute buttons on a card (including those inside ShowCards). */
export function verbsOf(card: unknown): string[] {
  const out: string[] = [];
  const walk = (n: unknown) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (n && typeof n === 'object') {
      const o = n as Record<string, unknown>;
      if (o.type === 'Action.Execute' && typeof o.verb === 'string' && o.verb !== 'refresh') out.push(o.verb);
      for (const [k, v] of Object.entries(o)) if (k !== 'refresh') walk(v);
    }
  };
  walk(card);
  return out;
}

/** "POST typing informative" — one line per connector call, for readable order assertions and the report. */
export function callLine(c: { method: string; body: Record<string, unknown>; status: number }): string {
  const cd = c.body.channelData as { streamType?: string } | undefined;
  const content = cardOf(c.body);
  // A plan card says its status and each step's: "card (awaiting approval: 1 ✅ 2 ⏳)".
  const status = content ? /Status: ([a-z ]+)/.exec(cardText(content))?.[1] : undefined;
  const steps = content ? [...cardText(content).matchAll(/\*\*(\d+)\. [a-z_]+\*\*[^\n]*\n(\S+)/g)].map((m) => `${m[1]} ${m[2]}`).join(' ') : '';
  const card = content ? ` card${status ? ` (${status}${steps ? `: ${steps}` : ''})` : ''}` : '';
  const att = (c.body.attachments as unknown[] | undefined)?.length && !card ? ' +attachment' : '';
  return `${c.method === 'PUT' ? 'update' : 'send'} ${String(c.body.type)}${cd?.streamType ? ` ${cd.streamType}` : ''}${card}${att}${c.status !== 200 ? ` → ${c.status}` : ''}`;
}
