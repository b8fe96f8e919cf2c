/**
 * Broken 200 answers for the fake OpenAI server (`fake.failNext(n, 'html_200')`): what a proxy, a
 * load balancer, a captive portal or a crashing model server sends instead of a chat completion.
 */
import type http from 'node:http';

/**
 * - `cut_mid_stream`: a few words of text, then the stream ends cleanly: no finish_reason, no [DONE];
 * - `cut_mid_tool_args`: a tool call whose arguments stop half-way, then the same clean end;
 * - `html_200`: an HTML login page; `json_200`: JSON that is not a chat completion;
 * - `text_200`: `text/plain` "OK"; `empty_200`: no body at all;
 * - `bad_chunk`: an event stream whose chunk has `choices` of the wrong type.
 */
export const BODY_FAULTS = ['cut_mid_stream', 'cut_mid_tool_args', 'html_200', 'json_200', 'text_200', 'empty_200', 'bad_chunk'] as const;
export type BodyFault = (typeof BODY_FAULTS)[number];

export const isBodyFault = (fault: unknown): fault is BodyFault => (BODY_FAULTS as readonly unknown[]).includes(fault);

/** The text a `cut_mid_stream` fault sends before it stops. */
export const CUT_TEXT = 'The answer starts like this and then';

export const LOGIN_PAGE =
  '<!DOCTYPE html>\n<html><head><title>Sign in - Corporate Web Gateway</title></head>\n<body><form action="/login"><input name="user"></form></body></html>\n';

export function sendBodyFault(res: http.ServerResponse, fault: BodyFault, model: string): void {
  const sse = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };
  const chunk = (choices: unknown) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-fault', object: 'chat.completion.chunk', created: 0, model, choices })}\n\n`;
  const delta = (d: Record<string, unknown>) => chunk([{ index: 0, delta: d, logprobs: null, finish_reason: null }]);
  switch (fault) {
    case 'cut_mid_stream':
      res.writeHead(200, sse);
      res.write(delta({ role: 'assistant', content: '' }));
      for (const word of CUT_TEXT.split(/(?<= )/)) res.write(delta({ content: word }));
      return void res.end();
    case 'cut_mid_tool_args':
      res.writeHead(200, sse);
      res.write(delta({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_cut', type: 'function', function: { name: 'send_message', arguments: '' } }] }));
      res.write(delta({ tool_calls: [{ index: 0, function: { arguments: '{"recipient": "vision_agent", "mess' } }] }));
      return void res.end();
    case 'html_200':
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return void res.end(LOGIN_PAGE);
    case 'json_200':
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ status: 'ok', message: 'Welcome to the API gateway' }));
    case 'text_200':
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end('OK');
    case 'empty_200':
      res.writeHead(200, { 'content-length': '0' });
      return void res.end();
    case 'bad_chunk':
      res.writeHead(200, sse);
      res.write(chunk('nope'));
      return void res.end('data: [DONE]\n\n');
  }
}
