import type { Context } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { createIdAllocator, type IdAllocator, saveUnderFreeId } from '../completion-ids.ts';
import { type ExactIntegers, findUnsafeIntegers, mergeExactIntegers, withExactIntegers } from '../exact-integers.ts';
import type { Json } from '../json.ts';
import { storedJsonText } from '../key-order.ts';
import type { CompletionRecord, Store } from '../store/index.ts';
import type { HeaderRecord } from '../upstream/headers.ts';
import { toCompletionRecord } from '../wire.ts';
import { createWriteBatcher, type WriteBatcher } from '../write-batcher.ts';
import type { CreatePlan } from './create-plan.ts';

/**
 * How a create's completion reaches the database, for the plain and the
 * streamed path alike: one id allocator (no two completions in flight get one
 * id) and one write batcher (group commit) shared by both.
 */
export interface CompletionWrites {
  ids: IdAllocator;
  writer: WriteBatcher;
  /** A stream's completion under the id held in the database since its first chunk (IdReservation.heldInDatabase). */
  saveHeld: (project: string, record: CompletionRecord) => Promise<void>;
}

export function createCompletionWrites(store: Store): CompletionWrites {
  const writer = createWriteBatcher(store);
  return {
    // A stream's hold and its held write meet the database as a batch does: the writer learns of their 503s,
    // so stored creates are held back before the provider is paid. Only the held write's success ends a hold:
    // the hold's row goes to another table (its probe on PostgreSQL inserts nothing that stays).
    ids: createIdAllocator({
      holdStreamId: (project, id) => writer.watch(store.holdStreamId(project, id), false),
      releaseStreamId: (project, id) => store.releaseStreamId(project, id),
    }),
    writer,
    saveHeld: (project, record) => writer.watch(store.saveHeldCompletion(project, record)),
  };
}

/**
 * The record stored for a provider's completion under `id`. `answerIntegers`: the integers past 2^53 of
 * the provider's answer as it wrote them.
 */
export function storedRecord(
  c: Context<AppEnv>,
  plan: CreatePlan,
  completion: Json,
  id: string,
  answerIntegers?: ExactIntegers,
): CompletionRecord {
  return toCompletionRecord({
    request: plan.request,
    response: completion,
    id,
    requestId: c.get('requestId'),
    metadata: plan.metadata,
    exactIntegers: mergeExactIntegers(answerIntegers, plan.exactIntegers),
    now: Math.floor(Date.now() / 1000),
  });
}

/**
 * Writes a provider's completion and answers the client with it, once it is
 * committed: a 200 means it is on disk. The client gets the provider's own
 * text unless the id had to change.
 */
export async function storeAndAnswer(
  c: Context<AppEnv>,
  { ids, writer }: CompletionWrites,
  plan: CreatePlan,
  answer: { completion: Json; text: string; status: number; headers: HeaderRecord },
): Promise<Response> {
  const { project } = c.get('tenant');
  const { completion } = answer;
  const answerIntegers = findUnsafeIntegers(answer.text);
  // The id stays held until its commit, so no create or stream in flight can take it meanwhile.
  const reservation = ids.reserveForWrite(project, completion.id);
  let id: string;
  try {
    id = await saveUnderFreeId(reservation.id, (candidate) => writer.save(project, storedRecord(c, plan, completion, candidate, answerIntegers)));
  } finally {
    reservation.release();
  }
  ids.remember(project, id);
  // A fresh id: the provider's answer written again, its objects' keys in the order it wrote them, as stored.
  const body = id !== completion.id ? withExactIntegers(storedJsonText({ ...completion, id }), answerIntegers) : answer.text;
  return c.body(body, answer.status as 200, answer.headers);
}
