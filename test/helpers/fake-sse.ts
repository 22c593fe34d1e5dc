import type { ServerResponse } from 'node:http';
import type { FakeHandler } from './fake-upstream.ts';

/**
 * Server-sent events for the fake provider: how OpenAI streams a completion,
 * chunk by chunk, so tests can compare what the client sees and what the proxy
 * stores with what the upstream sent.
 */

type Json = Record<string, unknown>;

export interface ChunkOptions {
  /** As `stream_options.include_usage`: `usage: null` on every chunk, then a usage-only chunk. */
  includeUsage?: boolean;
  /** Characters per content/refusal/arguments delta (text is split, so tool arguments arrive in many pieces). */
  pieceLength?: number;
}

function pieces(text: string, length: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += length) out.push(text.slice(i, i + length));
  return out;
}

interface ChoiceDelta {
  delta: Json;
  logprobs: Json | null;
  finish_reason: string | null;
}

/** One choice's message as a sequence of deltas, the way OpenAI sends them. */
function choiceDeltas(choice: Json, pieceLength: number): ChoiceDelta[] {
  const message = choice.message as Json;
  const logprobs = choice.logprobs as { content?: Json[] | null; refusal?: Json[] | null } | null;
  const deltas: ChoiceDelta[] = [];
  const step = (delta: Json, lp: Json | null = null) => deltas.push({ delta, logprobs: lp, finish_reason: null });

  step({ role: message.role, content: typeof message.content === 'string' ? '' : null, refusal: null });
  if (typeof message.content === 'string') {
    if (logprobs?.content) {
      // With logprobs, one delta per token, each carrying its own logprob.
      for (const entry of logprobs.content) step({ content: entry.token }, { content: [entry], refusal: null });
    } else {
      for (const piece of pieces(message.content, pieceLength)) step({ content: piece });
    }
  }
  if (typeof message.refusal === 'string') {
    for (const piece of pieces(message.refusal, pieceLength)) step({ refusal: piece });
  }
  const toolCalls = (message.tool_calls as Json[] | undefined) ?? [];
  toolCalls.forEach((call, index) => {
    const fn = call.function as { name: string; arguments: string };
    step({ tool_calls: [{ index, id: call.id, type: call.type, function: { name: fn.name, arguments: '' } }] });
    for (const piece of pieces(fn.arguments, pieceLength)) step({ tool_calls: [{ index, function: { arguments: piece } }] });
  });
  const functionCall = message.function_call as { name: string; arguments: string } | undefined;
  if (functionCall) {
    step({ function_call: { name: functionCall.name, arguments: '' } });
    for (const piece of pieces(functionCall.arguments, pieceLength)) step({ function_call: { arguments: piece } });
  }
  deltas.push({ delta: {}, logprobs: null, finish_reason: choice.finish_reason as string });
  return deltas;
}

/**
 * The `chat.completion.chunk`s OpenAI would stream for `completion`: choices
 * interleaved, fields we do not know repeated on every chunk, an `obfuscation`
 * padding field, and with `includeUsage` the usage-only chunk last.
 */
export function completionToChunks(completion: Json, options: ChunkOptions = {}): Json[] {
  const { id, object: _object, created, model, choices, usage, service_tier, system_fingerprint, ...unknown } = completion;
  const envelope = (chunkChoices: Json[]): Json => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    service_tier,
    system_fingerprint,
    choices: chunkChoices,
    ...unknown,
    ...(options.includeUsage ? { usage: null } : {}),
    obfuscation: 'pad',
  });
  const perChoice = (choices as Json[]).map((choice) => choiceDeltas(choice, options.pieceLength ?? 4));
  const chunks: Json[] = [];
  const longest = Math.max(...perChoice.map((d) => d.length));
  for (let step = 0; step < longest; step++) {
    perChoice.forEach((deltas, i) => {
      const d = deltas[step];
      if (d) chunks.push(envelope([{ index: (choices as Json[])[i]!.index, delta: d.delta, logprobs: d.logprobs, finish_reason: d.finish_reason }]));
    });
  }
  if (options.includeUsage) chunks.push({ ...envelope([]), usage });
  return chunks;
}

export function sseEvent(data: unknown): string {
  return `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

/** Starts an SSE response; each `send` is written (and flushed) on its own, as a provider streams. */
export function openSse(res: ServerResponse) {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': 'req_upstream_stream' });
  res.flushHeaders();
  return {
    send: (data: unknown) => res.write(sseEvent(data)),
    raw: (text: string) => res.write(text),
    done: () => res.end(sseEvent('[DONE]')),
    /** Resolves when the connection is gone; `finished` says whether we ended it ourselves. */
    closed: new Promise<{ finished: boolean }>((resolve) => res.on('close', () => resolve({ finished: res.writableFinished }))),
  };
}

/** A provider that streams `completion` for `stream: true` requests, honouring `include_usage`. */
export function streamingHandler(completion: Json, options: Omit<ChunkOptions, 'includeUsage'> = {}): FakeHandler {
  return (request, res) => {
    const includeUsage = (request.json?.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const sse = openSse(res);
    for (const chunk of completionToChunks(completion, { ...options, includeUsage })) sse.send(chunk);
    sse.done();
  };
}

/** Parses a whole SSE text into its events' data (for raw-HTTP assertions). */
export function parseSseText(text: string): string[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n'));
}
