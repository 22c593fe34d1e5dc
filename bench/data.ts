import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { CompletionRecord, Store } from '../src/store/index.ts';
import { newCompletionId, toCompletionRecord } from '../src/wire.ts';

/**
 * Realistic stored completions for the benchmark: about 1 KB of JSON each,
 * two projects, four models, and metadata with a high-cardinality key (`user`,
 * 1,000 values) and a low one (`env`, 2 values). The generator is seeded, so
 * two runs of the same size store the same texts (the ids are random, as in
 * production, which spreads inserts over the id index as real traffic does).
 */

export const PROJECTS = ['project-a', 'project-b'] as const;
export const MODELS = ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'o3-mini'] as const;
export const USER_COUNT = 1000;
export const ENVS = ['prod', 'staging'] as const;
/** The first completion's `created`; completions come four to a second, so ids break ties within a project. */
/** The list page the HTTP benchmark requests (and whose bytes the bare ceiling endpoint serves). */
export const LIST_PATH = '/v1/chat/completions?limit=20&order=desc';

export const FIRST_CREATED = 1_735_689_600;

const WORDS = (
  'the a of to and in is it you that for on with as was are be this have from or one had by word but not what all were we when ' +
  'your can said there use an each which she do how their if will up other about out many then them these so some her would make ' +
  'like him into time has look two more write go see number no way could people my than first water been call who oil its now find ' +
  'long down day did get come made may part summary invoice customer order shipping refund policy translate explain code function ' +
  'error database query index latency request response model token prompt answer question context document section'
).split(' ');

/** A small fast PRNG (mulberry32): deterministic texts without the cost of crypto randomness. */
export function createRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sentence(random: () => number, words: number): string {
  let text = '';
  for (let i = 0; i < words; i++) text += (i === 0 ? '' : ' ') + WORDS[Math.floor(random() * WORDS.length)];
  return `${text}.`;
}

/** A pool of texts reused by index: building a million distinct paragraphs would dominate seeding time. */
function buildPool(random: () => number, size: number, words: number): string[] {
  return Array.from({ length: size }, () => sentence(random, words));
}

export interface CompletionGenerator {
  /** The request and upstream response of completion number `n` (0-based, in time order). */
  exchange(n: number): { request: Record<string, unknown>; response: Record<string, unknown> };
  record(n: number): CompletionRecord;
}

/** A well-mixed integer hash, so `user` is spread evenly inside each project (n's parity picks the project). */
function mix(n: number): number {
  let h = Math.imul(n ^ (n >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 0;
}

export function userOf(n: number): string {
  return `user-${mix(n) % USER_COUNT}`;
}

export function envOf(n: number): string {
  return ENVS[(n >>> 1) % ENVS.length]!;
}

export function modelOf(n: number): string {
  return MODELS[(n >>> 2) % MODELS.length]!;
}

/** Planted for the search bench: in half of all completions, and in 1 in 10,000 (both spread evenly over projects). */
export const COMMON_WORD = 'marigold';
export const RARE_WORD = 'zyzzyva';

/** The words planted in completion n's prompt: independent of user, env, model and project. */
function plantedWords(n: number): string {
  const h = mix(n ^ 0x5bd1e995);
  return `${h % 2 === 0 ? ` ${COMMON_WORD}` : ''}${Math.floor(h / 2) % 10_000 === 0 ? ` ${RARE_WORD}` : ''}`;
}

export function projectOf(n: number): string {
  return PROJECTS[n % PROJECTS.length]!;
}

export function createGenerator(seed = 1): CompletionGenerator {
  const random = createRandom(seed);
  const systemPrompts = buildPool(random, 16, 18);
  const userPrompts = buildPool(random, 997, 45);
  const answers = buildPool(random, 1009, 70);

  function exchange(n: number) {
    const model = modelOf(n);
    const created = FIRST_CREATED + Math.floor(n / 4);
    const prompt = userPrompts[n % userPrompts.length]! + plantedWords(n);
    const answer = answers[(n * 7) % answers.length]!;
    const request = {
      model,
      messages: [
        { role: 'system', content: systemPrompts[n % systemPrompts.length]! },
        { role: 'user', content: prompt },
      ],
      temperature: 0.7,
      store: true,
      metadata: { user: userOf(n), env: envOf(n) },
    };
    const response = {
      id: newCompletionId(),
      object: 'chat.completion',
      created,
      model: `${model}-2024-08-06`,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: answer, refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: {
        prompt_tokens: 60 + (n % 40),
        completion_tokens: 90 + (n % 60),
        total_tokens: 150 + (n % 100),
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
      service_tier: 'default',
      system_fingerprint: 'fp_f33640a400',
    };
    return { request, response };
  }

  return {
    exchange,
    record(n) {
      const { request, response } = exchange(n);
      return toCompletionRecord({
        request,
        response,
        id: response.id,
        requestId: `req_${(n + 1).toString(16).padStart(32, '0')}`,
        metadata: request.metadata,
        now: response.created,
      });
    },
  };
}

/** Rows are written per project in transactions of this many completions. */
const BATCH = 10_000;

/**
 * Stores completions number `from` up to (not including) `to` through the
 * store, in large transactions, as an import would. A worker thread builds
 * each batch while the previous one is written.
 */
export async function seedCompletions(store: Store, from: number, to: number): Promise<void> {
  // A worker does not inherit tsx's loader: register it, then load the TypeScript entry.
  const entry = new URL('./seed-worker.ts', import.meta.url).href;
  const worker = new Worker(
    `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`,
    { eval: true },
  );
  try {
    const build = (start: number): Promise<Record<string, CompletionRecord[]>> => {
      const built = once(worker, 'message') as Promise<[Record<string, CompletionRecord[]>]>;
      worker.postMessage({ from: start, to: Math.min(to, start + BATCH) });
      return built.then(([batch]) => batch);
    };
    let next = from < to ? build(from) : undefined;
    for (let start = from; start < to; start += BATCH) {
      const batch = await next!;
      next = start + BATCH < to ? build(start + BATCH) : undefined;
      for (const project of PROJECTS) await store.saveCompletions(project, batch[project]!);
    }
  } finally {
    await worker.terminate();
  }
}
