import type { ServerResponse } from 'node:http';
import type OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import { type FakeUpstream, type ReceivedRequest, sendJson } from './fake-upstream.ts';

/** What the provider answers for one seeded completion: one entry of `replies` per choice. */
export interface ScriptedReply {
  /** Parts: as a reasoning model answers (Mistral's thinking part, then text). */
  content?: string | null | Record<string, unknown>[];
  refusal?: string | null;
  /** DeepSeek's and vLLM's thinking, sent beside the reply. */
  reasoning_content?: string;
  tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[];
  finish_reason?: string;
}

export interface SeedSpec {
  /** Unix seconds the provider stamps on the completion. */
  created: number;
  /** The model asked for; the provider answers with the same name. */
  model: string;
  messages: ChatCompletionCreateParamsNonStreaming['messages'];
  metadata?: Record<string, string>;
  replies?: ScriptedReply[];
  /** null: the provider sends no usage at all (some OpenAI-compatible servers do not). */
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  /** Any other request fields (tools, temperature, seed, response_format, ...). */
  request?: Partial<ChatCompletionCreateParamsNonStreaming>;
}

/** Upstream ids with no pattern worth relying on (`chatcmpl-` + 29 letters and digits, as OpenAI's). */
function upstreamId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let id = 'chatcmpl-';
  for (let i = 0; i < 29; i++) id += alphabet[Math.floor(Math.random() * alphabet.length)];
  return id;
}

function scriptedHandler(spec: SeedSpec) {
  return (request: ReceivedRequest, res: ServerResponse) => {
    const replies = spec.replies ?? [{ content: `Reply to: ${JSON.stringify(spec.messages.at(-1)?.content ?? '')}` }];
    const usage = spec.usage === undefined ? { prompt_tokens: 12, completion_tokens: 8 } : spec.usage;
    sendJson(res, 200, {
      id: upstreamId(),
      object: 'chat.completion',
      created: spec.created,
      model: String(request.json?.model ?? spec.model),
      choices: replies.map((reply, index) => ({
        index,
        message: {
          role: 'assistant',
          content: reply.content ?? null,
          refusal: reply.refusal ?? null,
          ...(reply.tool_calls ? { tool_calls: reply.tool_calls } : {}),
          ...(reply.reasoning_content === undefined ? {} : { reasoning_content: reply.reasoning_content }),
          annotations: [],
        },
        logprobs: null,
        finish_reason: reply.finish_reason ?? (reply.tool_calls ? 'tool_calls' : 'stop'),
      })),
      ...(usage ? { usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } } : {}),
      service_tier: 'default',
      system_fingerprint: 'fp_seeded',
    });
  };
}

/**
 * Stores one completion the way a user would, through the service with the official client, the fake
 * provider answering exactly what `spec` scripts. Returns the stored completion's id.
 */
export async function seedCompletion(client: OpenAI, upstream: FakeUpstream, spec: SeedSpec): Promise<string> {
  const previous = upstream.handler;
  upstream.handler = scriptedHandler(spec);
  try {
    const n = spec.replies && spec.replies.length > 1 ? spec.replies.length : undefined;
    const completion = await client.chat.completions.create({
      model: spec.model,
      messages: spec.messages,
      store: true,
      ...(spec.metadata ? { metadata: spec.metadata } : {}),
      ...(n ? { n } : {}),
      ...spec.request,
    });
    return completion.id;
  } finally {
    upstream.handler = previous;
  }
}

/**
 * Groups of completions, each tagged `metadata.group` (plus `extra(group, i)`), so each test curates its own
 * and none sees another's changes. One second apart from `base` on; each group's ids newest first, as the list shows them.
 */
export async function seedGroups<G extends string>(
  client: OpenAI,
  upstream: FakeUpstream,
  { base, counts, extra = () => ({}) }: { base: number; counts: Record<G, number>; extra?: (group: G, i: number) => Record<string, string> },
): Promise<Record<G, string[]>> {
  const ids = {} as Record<G, string[]>;
  let created = base;
  for (const [group, count] of Object.entries(counts) as [G, number][]) {
    ids[group] = [];
    for (let i = 0; i < count; i++) {
      created += 1;
      const metadata = { group, ...extra(group, i) };
      ids[group].push(await seedCompletion(client, upstream, { created, model: 'gpt-4o-mini', metadata, messages: [{ role: 'user', content: `${group} ${i}` }] }));
    }
    ids[group].reverse();
  }
  return ids;
}

/** A conversation in which the model called a tool and got its result, then answered. */
export function toolCallSpec(created: number, metadata?: Record<string, string>): SeedSpec {
  return {
    created,
    model: 'gpt-4o-mini',
    metadata,
    request: {
      temperature: 0.2,
      seed: 42,
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Current weather for a city',
            parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } }, required: ['city'] },
          },
        },
      ],
    },
    messages: [
      { role: 'system', content: 'You are a concise travel assistant.' },
      { role: 'user', content: 'What is the weather in Paris right now?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_weather_paris', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_weather_paris', content: '{"temperature":18,"condition":"light rain"}' },
    ],
    replies: [{ content: 'It is 18 °C in Paris with light rain: take an umbrella.' }],
    usage: { prompt_tokens: 96, completion_tokens: 17 },
  };
}

const DEMO_MODELS = ['gpt-4o-mini', 'gpt-4o', 'llama-3.1-8b-instruct', 'o3-mini'];
const DEMO_QUESTIONS: [string, string][] = [
  ['Summarize this support ticket: the customer was charged twice for the March invoice.', 'The customer was billed twice for March; refund the duplicate charge and confirm by email.'],
  ['Translate "Where is the train station?" into German.', 'Wo ist der Bahnhof?'],
  ['Write a haiku about database indexes.', 'Sorted, patient keys\nwaiting in their B-tree rows:\none seek, and you are home.'],
  ['Classify the sentiment of: "The update broke my workflow again."', 'negative'],
  ['Extract the order number from: "Re: order #A-10293 arrived damaged"', '{"order_number":"A-10293"}'],
  ['Explain keyset pagination in two sentences.', 'Keyset pagination continues after the last row seen, using an index on the sort key. Each page costs the same however deep you go.'],
  ['Suggest a name for a self-hosted logging service.', 'Ledger, Logbook or Tally.'],
  ['Is 2027 a prime number?', 'Yes: 2027 has no divisors other than 1 and itself.'],
];

/** A month of varied completions for screenshots and manual checks: four models, a few users, two environments. */
export function demoSpecs(now: number, count = 48): SeedSpec[] {
  const specs: SeedSpec[] = [];
  for (let i = 0; i < count; i++) {
    const [question, answer] = DEMO_QUESTIONS[i % DEMO_QUESTIONS.length]!;
    const day = Math.floor((i * 13) / count);
    specs.push({
      created: now - day * 86_400 - ((i * 3917) % 80_000),
      model: DEMO_MODELS[(i * 7) % DEMO_MODELS.length]!,
      metadata: { env: i % 3 === 0 ? 'staging' : 'prod', user: `u_${100 + (i % 5)}`, ...(i % 4 === 0 ? { feature: 'support-triage' } : {}) },
      messages: [
        { role: 'system', content: 'You are a helpful assistant.' },
        { role: 'user', content: question },
      ],
      replies: [{ content: answer }],
      usage: { prompt_tokens: 40 + ((i * 37) % 300), completion_tokens: 10 + ((i * 53) % 200) },
    });
  }
  return specs;
}
