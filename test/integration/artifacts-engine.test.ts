import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/core/agents/spec.js';
import { ForbiddenError, InvalidInputError, NotFoundError } from '../../src/core/errors.js';
import type { SwitchboardEvent } from '../../src/core/events.js';
import { PostgresStore } from '../../src/core/store/postgres.js';
import { PNG } from '../support/artifact-contract.js';
import { scriptByAgent, TINY_PNG_B64, type RecordedRequest, type WireContentPart, type WireMessage } from '../support/fake-openai.js';
import { alice, bob, startHarness, type Harness } from '../support/switchboard.js';

/**
 * Images in and out through the real engine, the real openai client and a fake model server: what the
 * model receives, what is stored, what the face gives back. On SQLite (bytes in the file or in a
 * folder) and on PostgreSQL when SWITCHBOARD_TEST_POSTGRES_URL is set.
 */
const url = process.env.SWITCHBOARD_TEST_POSTGRES_URL;
if (!url) console.warn('artifacts-engine: SWITCHBOARD_TEST_POSTGRES_URL is not set; skipping the PostgreSQL variant');
const schemas: string[] = [];

const backends = [
  { name: 'SQLite', folder: false, postgres: false },
  { name: 'SQLite with artifacts.dir', folder: true, postgres: false },
  ...(url ? [{ name: 'PostgreSQL', folder: false, postgres: true }] : []),
];

const PNG_DATA_URL = `data:image/png;base64,${TINY_PNG_B64}`;
const JPEG_BYTES = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1]);
const call = (name: string, args: object) => ({ toolCalls: [{ name, arguments: args }] });

/** The image_url parts of a message. */
function imageUrlsOf(message: WireMessage | undefined): string[] {
  const parts = Array.isArray(message?.content) ? (message.content as WireContentPart[]) : [];
  return parts.filter((p) => p.type === 'image_url').map((p) => p.image_url!.url);
}

/** The image_url parts of the last user message of a recorded chat request. */
const imageUrls = (req: RecordedRequest | undefined): string[] => imageUrlsOf(req?.body.messages.filter((m) => m.role === 'user').at(-1));

afterAll(async () => {
  if (!url || schemas.length === 0) return;
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

describe.each(backends)('images and artifacts on $name', (backend) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function start(config: ConfigInput = {}): Promise<Harness> {
    let store: PostgresStore | undefined;
    if (backend.postgres) {
      const schema = `sb_arte_${randomBytes(5).toString('hex')}`;
      schemas.push(schema);
      store = new PostgresStore({ url: url!, schema, pool: { max: 4 } });
    }
    h = await startHarness({ config: { ...config, ...(backend.folder ? { artifacts: { dir: 'shared-artifacts' } } : {}) }, switchboard: store ? { store } : {} });
    return h;
  }

  it('refuses an image over limits.maxImageBytes and images whose bytes are not what they claim, storing nothing', async () => {
    const { sb } = await start({ limits: { maxImageBytes: PNG.length - 1 } });
    const conv = await sb.conversation('test:too-big', alice);
    const send = (images: Parameters<typeof sb.send>[1]['images']) => sb.send(conv.id, { text: 'look', images, from: alice });

    const big = await send([{ data: PNG, mediaType: 'image/png' }]).catch((e: unknown) => e);
    expect(big).toBeInstanceOf(InvalidInputError);
    expect((big as Error).message).toBe(`Image 1 is ${PNG.length} bytes; images may be at most ${PNG.length - 1} bytes (limits.maxImageBytes).`);
    await expect(send([PNG_DATA_URL])).rejects.toThrow(/limits\.maxImageBytes/);

    await expect(send(['https://example.com/a.png', { data: JPEG_BYTES, mediaType: 'image/png' }])).rejects.toThrow(
      'Image 2 is declared image/png but they are image/jpeg; send a PNG, JPEG, GIF or WebP image with its right media type.',
    );
    await expect(send([{ data: Buffer.from('GIF89a is what I say'), mediaType: 'text/plain' }])).rejects.toThrow(/media type "text\/plain" is not accepted/);
    await expect(send([{ data: Buffer.from('not an image at all'), mediaType: 'image/webp' }])).rejects.toThrow(/they are not a PNG, JPEG, GIF or WebP image/);
    await expect(send(['http://example.com/a.png'])).rejects.toThrow(/only https URLs/);
    await expect(send(['switchboard://artifacts/art_elsewhere'])).rejects.toThrow('Image 1: no artifact "art_elsewhere" in this conversation.');

    expect(await sb.listArtifacts(conv.id)).toEqual([]);
    expect(await sb.store.listRuns({ conversationId: conv.id })).toEqual([]);
  });

  it('bytes in: the vision agent gets the image as an image_url part built from the stored bytes', async () => {
    const { sb, fake } = await start();
    fake.setHandler(scriptByAgent({ vision_agent: [{ content: 'One white pixel.' }, { content: 'Still one pixel.' }] }));
    const first = await sb.ask('vision_agent', { text: 'What is this?', images: [{ data: PNG, mediaType: 'image/png', name: 'dot.png' }], from: alice });
    expect(first.reply).toBe('One white pixel.');

    const [artifact] = await sb.listArtifacts(first.conversationId, alice);
    expect(artifact).toMatchObject({ conversationId: first.conversationId, runId: null, mediaType: 'image/png', size: PNG.length, name: 'dot.png' });
    const request = fake.requests.find((r) => r.agent === 'vision_agent');
    expect(imageUrls(request)).toEqual([PNG_DATA_URL]);
    const user = request!.body.messages.at(-1)!;
    expect((user.content as WireContentPart[])[0]).toEqual({ type: 'text', text: `What is this?\n\n[image 1: switchboard://artifacts/${artifact!.id}]` });

    // The thread keeps the reference, not the bytes; the next turn sends the image again, with an https one.
    const thread = (await sb.transcript(first.conversationId)).find((t) => t.thread.agent === 'vision_agent');
    expect(thread!.messages[0]!.images).toEqual([`switchboard://artifacts/${artifact!.id}`]);
    await sb.ask('vision_agent', { text: 'And this?', images: ['https://example.com/b.png'], conversationId: first.conversationId, from: alice });
    const second = fake.requests.filter((r) => r.agent === 'vision_agent').at(-1)!;
    const users = second.body.messages.filter((m) => m.role === 'user');
    expect(users.map(imageUrlsOf)).toEqual([[PNG_DATA_URL], ['https://example.com/b.png']]);
  });

  it('the proxy hands a sent image to the vision agent by its reference; analyze_image sends the bytes', async () => {
    const { sb, fake } = await start({ agents: { vision_agent: { visionModel: 'gpt-4o' } } });
    let ref = '';
    fake.setHandler(
      scriptByAgent({
        proxy: [
          (req) => {
            ref = /switchboard:\/\/artifacts\/[a-z0-9_]+/.exec(req.lastUserText ?? '')![0];
            return call('send_message', { recipient: 'vision_agent', message: `What is in ${ref}?` });
          },
          (req) => ({ content: `Seen: ${req.toolResults[0]!.content}` }),
        ],
        vision_agent: [() => call('analyze_image', { image: ref, question: 'What is shown?' }), (req) => ({ content: req.toolResults[0]!.content })],
        '*': [{ content: 'A single pixel.' }],
      }),
    );
    const conv = await sb.conversation('test:hand-on', alice);
    const run = await sb.wait((await sb.send(conv.id, { text: 'What is this picture?', images: [PNG_DATA_URL], from: alice })).id);
    expect(run.reply).toBe('Seen: A single pixel.');
    expect(imageUrls(fake.requests.find((r) => r.agent === 'proxy'))).toEqual([PNG_DATA_URL]);
    const visionCall = fake.requests.find((r) => r.agent === null)!;
    expect(visionCall.model).toBe('gpt-4o');
    expect(imageUrls(visionCall)).toEqual([PNG_DATA_URL]);
  });

  it('generate_image keeps an artifact, announces it, and tells the model its reference, not a path', async () => {
    const { sb, fake, dir } = await start();
    fake.setHandler(scriptByAgent({ image_agent: [call('generate_image', { prompt: 'A red dot' }), (req) => ({ content: req.toolResults[0]!.content })] }));
    const created: SwitchboardEvent[] = [];
    sb.on('*', (e) => {
      if (e.type === 'artifact.created') created.push(e);
    });
    const result = await sb.ask('image_agent', { text: 'Draw a red dot', from: alice });

    expect(created).toHaveLength(1);
    const event = created[0] as Extract<SwitchboardEvent, { type: 'artifact.created' }>;
    expect(event).toMatchObject({ conversationId: result.conversationId, runId: result.runId, agent: 'image_agent', mediaType: 'image/png', size: PNG.length, name: 'a-red-dot.png' });
    expect(result.reply).toBe(
      `Created the image switchboard://artifacts/${event.artifactId} (artifact ${event.artifactId}, image/png, ${PNG.length} bytes).\nRevised prompt: A picture of A red dot`,
    );
    expect(result.reply).not.toContain(dir);

    const { artifact, bytes } = await sb.readArtifact(event.artifactId, alice);
    expect(Buffer.from(bytes).equals(PNG)).toBe(true);
    expect(artifact).toMatchObject({ id: event.artifactId, runId: result.runId, mediaType: 'image/png', size: PNG.length });
    expect(await sb.listArtifacts(result.conversationId, alice)).toEqual([artifact]);
    expect(existsSync(join(dir, 'shared-artifacts', event.artifactId))).toBe(backend.folder);

    await expect(sb.readArtifact(event.artifactId, bob)).rejects.toBeInstanceOf(ForbiddenError);
    await expect(sb.listArtifacts(result.conversationId, bob)).rejects.toBeInstanceOf(ForbiddenError);
    await expect(sb.readArtifact('art_nothing', alice)).rejects.toBeInstanceOf(NotFoundError);

    // A generated image may be sent back in, to the vision agent say, by its reference.
    fake.setHandler(scriptByAgent({ vision_agent: [{ content: 'A red dot.' }] }));
    await sb.ask('vision_agent', { text: 'Describe it', images: [`switchboard://artifacts/${event.artifactId}`], conversationId: result.conversationId, from: alice });
    expect(imageUrls(fake.requests.find((r) => r.agent === 'vision_agent'))).toEqual([PNG_DATA_URL]);
  });

  it("analyze_image does not open another conversation's artifact, even by its exact reference", async () => {
    const { sb, fake } = await start();
    const theirs = await sb.conversation('test:theirs', bob);
    await sb.ask('vision_agent', { text: 'Keep this', images: [PNG_DATA_URL], conversationId: theirs.id, from: bob }).catch(() => undefined);
    const [secret] = await sb.listArtifacts(theirs.id, bob);
    const ref = `switchboard://artifacts/${secret!.id}`;
    fake.setHandler(scriptByAgent({ vision_agent: [call('analyze_image', { image: ref, question: 'What is it?' }), (req) => ({ content: req.toolResults[0]!.content })] }));
    const { reply } = await sb.ask('vision_agent', { text: `Look at ${ref}`, from: alice });
    expect(reply).toBe(`No image ${ref} in this conversation. Use a reference you were given, an http(s) URL or a workspace path.`);
    expect(fake.requests.filter((r) => r.agent === null)).toEqual([]);
  });
});
