import { scriptByAgent, type FakeHandler } from './fake-openai.js';

/** The proxy delegates to vision_agent (answered by `vision`), then answers with its reply: "answer: <reply>". */
export function delegatingScript(vision: FakeHandler): FakeHandler {
  return scriptByAgent({
    proxy: (req) =>
      req.toolResults.length > 0
        ? { content: `answer: ${req.toolResults[0]!.content}` }
        : { toolCalls: [{ name: 'send_message', arguments: { recipient: 'vision_agent', message: 'look' } }] },
    vision_agent: vision,
  });
}
