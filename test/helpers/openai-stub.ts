/**
 * A real OpenAI-compatible chat completions server on 127.0.0.1 (a free port), for tests of the
 * `llm` agent. It records every request and answers deterministically:
 *
 *   content = `echo: <last user message> (<number of messages received>)`
 *
 * so a test can prove the conversation was sent along. Switches make it fail like real
 * providers do: an HTTP error with an OpenAI-style body, a slow answer, a malformed body.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const HOST = '127.0.0.1';
const COMPLETIONS_PATH = '/v1/chat/completions';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** Parsed JSON body (or the raw text when it is not JSON). */
  body: unknown;
}

export type StubMode =
  | { kind: 'ok' }
  /** An OpenAI-style error: `{ error: { message, type, code } }`. */
  | { kind: 'error'; status: number; message: string }
  /** An error whose message quotes the Authorization header, as some providers do. */
  | { kind: 'error_echoing_key'; status: number }
  /** Answers after `ms` (or never, if the client gives up first). */
  | { kind: 'slow'; ms: number }
  | { kind: 'malformed'; body: string };

export interface OpenAiStub {
  /** `http://127.0.0.1:<port>/v1`, what the agent's `base_url` is set to. */
  readonly baseUrl: string;
  readonly requests: RecordedRequest[];
  mode: StubMode;
  close(): Promise<void>;
}

interface ChatBody {
  model?: unknown;
  messages?: { role?: unknown; content?: unknown }[];
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function completion(body: ChatBody): unknown {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const content = `echo: ${String(lastUser?.content ?? '')} (${messages.length})`;
  return {
    id: `chatcmpl-${messages.length}`,
    object: 'chat.completion',
    created: 0,
    model: typeof body.model === 'string' ? body.model : 'unknown',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: messages.length, completion_tokens: 1, total_tokens: messages.length + 1 },
  };
}

export async function startOpenAiStub(): Promise<OpenAiStub> {
  const requests: RecordedRequest[] = [];
  const stub = { requests, mode: { kind: 'ok' } as StubMode };

  const handle = (req: IncomingMessage, res: ServerResponse, text: string): void => {
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // recorded as text
    }
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
    if (req.method !== 'POST' || req.url !== COMPLETIONS_PATH) {
      send(res, 404, { error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error', code: null } });
      return;
    }
    const mode = stub.mode;
    switch (mode.kind) {
      case 'ok':
        send(res, 200, completion(body as ChatBody));
        return;
      case 'error':
        send(res, mode.status, { error: { message: mode.message, type: 'api_error', code: String(mode.status) } });
        return;
      case 'error_echoing_key':
        send(res, mode.status, { error: { message: `Incorrect API key provided: ${req.headers.authorization ?? ''}`, type: 'invalid_request_error', code: 'invalid_api_key' } });
        return;
      case 'slow': {
        const timer = setTimeout(() => send(res, 200, completion(body as ChatBody)), mode.ms);
        res.on('close', () => clearTimeout(timer));
        return;
      }
      case 'malformed':
        send(res, 200, mode.body);
        return;
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: HOST, port: 0 }, resolve);
  });
  const { port } = server.address() as AddressInfo;

  return Object.assign(stub, {
    baseUrl: `http://${HOST}:${port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        // Slow answers may still hold sockets open: cut them so close() returns promptly.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
