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

const quote = (s: unknown, max = 70) => {
  const t = String(s ?? '').replace(/\s+/g, ' ');
  return JSON.stringify(t.length > max ? `${t.slice(0, max - 1)}…` : t);
};

/** A card in one phrase: its kind, a plan's status and steps, its buttons, a notice on top. */
function cardPhrase(card: Record<string, unknown>): string {
  const text = cardText(card);
  const status = /Status: ([a-z ]+)/.exec(text)?.[1];
  const steps = [...text.matchAll(/\*\*(\d+)\. ([a-z_]+)\*\*[^\n]*\n(\S+)(?: · (\w+ by \w+))?/g)].map((m) => `${m[1]} ${m[2]} ${m[3]}${m[4] ? ` ${m[4]}` : ''}`);
  const verbs = verbsOf(card);
  const kind = status ? `plan ${status}` : /wants to call \*\*(\w+)\*\*/.exec(text)?.[1] ? `tool approval ${/wants to call \*\*(\w+)\*\*/.exec(text)![1]}` : /Working…|\*\*Done\*\*/.test(text) ? 'working' : 'card';
  return `card v${String(card.version)} {${kind}${steps.length ? `; ${steps.join(', ')}` : ''}${verbs.length ? `; buttons ${verbs.join('/')}` : ''}}`;
}

/**
 * One connector call as it went over the wire: HTTP method and path, then the body's key fields —
 * type, text, the stream fields (entity and channelData), the AI label, cards and attachments — and the answer.
 */
export function wireLine(c: { method: string; path: string; body: Record<string, unknown>; status: number; responseId?: string }): string {
  const b = c.body;
  const parts = [`${c.method} ${c.path}`, `type=${String(b.type)}`];
  if (b.text !== undefined) parts.push(`text=${quote(b.text)}`);
  const entities = (b.entities as Record<string, unknown>[] | undefined) ?? [];
  const info = entities.find((e) => e.type === 'streaminfo');
  if (info) {
    const { type: _t, ...fields } = info;
    const same = JSON.stringify(fields) === JSON.stringify(b.channelData);
    parts.push(`streaminfo ${JSON.stringify(fields)}${same ? ' (channelData the same)' : ` channelData ${JSON.stringify(b.channelData)}`}`);
  }
  if (entities.some((e) => Array.isArray(e.additionalType) && e.additionalType.includes('AIGeneratedContent'))) parts.push('AI-label');
  for (const a of (b.attachments as { contentType: string; content?: Record<string, unknown> }[] | undefined) ?? []) {
    parts.push(a.contentType === 'application/vnd.microsoft.card.adaptive' && a.content ? cardPhrase(a.content) : `attachment ${a.contentType}`);
  }
  return `${parts.join('  ')}  → ${c.status}${c.status === 200 && c.responseId ? ` id=${c.responseId}` : ''}`;
}

/** An activity the channel posted to the bot, and the bot's answer, in one line. */
export function inboundLine(p: { activity: Record<string, unknown>; status: number; body: unknown }): string {
  const a = p.activity;
  const from = (a.from as { name?: string } | undefined)?.name;
  const action = (a.value as { action?: { verb?: string } } | undefined)?.action;
  const what = a.type === 'invoke' ? `invoke ${String(a.name)} verb=${String(action?.verb)}` : `${String(a.type)}${a.text ? ` text=${quote(a.text, 40)}` : ''}`;
  const answer = p.body as { statusCode?: number; type?: string; value?: unknown } | null;
  const card = answer?.type === 'application/vnd.microsoft.card.adaptive' ? ` ${cardPhrase(answer.value as Record<string, unknown>)}` : '';
  return `  (channel → bot: POST /api/messages ${what}${from ? ` from ${from}` : ''} → ${p.status}${answer?.statusCode ? ` invoke answer ${answer.statusCode}${card}` : ''})`;
}

/** Connector calls and the channel's posts to the bot, in the order they happened. */
export function timeline(fake: { calls: (Parameters<typeof wireLine>[0] & { seq: number })[]; inbound: (Parameters<typeof inboundLine>[0] & { seq: number })[] }): string[] {
  const rows = [...fake.calls.map((c) => ({ seq: c.seq, line: wireLine(c) })), ...fake.inbound.map((p) => ({ seq: p.seq, line: inboundLine(p) }))];
  return rows.sort((x, y) => x.seq - y.seq).map((r) => r.line);
}
