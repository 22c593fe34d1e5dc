import type { Context } from 'hono';
import type { AppEnv } from '../app-env.ts';
import { type IdReservation, saveUnderFreeId } from '../completion-ids.ts';
import type { ExactIntegers } from '../exact-integers.ts';
import type { CompletionAssembler } from '../streaming/assemble.ts';
import { notStored } from '../streaming/error-events.ts';
import type { CreatePlan } from './create-plan.ts';
import { type CompletionWrites, storedRecord } from './store-and-answer.ts';

/** A stored stream as it stands at `[DONE]`: what was assembled of its chunks, and the id held for it. */
export interface StreamedCompletion {
  /** Held since the first chunk, by this process and, on PostgreSQL, by the database against other instances. */
  held: IdReservation;
  assembler: CompletionAssembler;
  /** The chunks' integers past 2^53 as the provider wrote them. */
  integers: ExactIntegers | undefined;
}

/**
 * Writes a stored stream's completion once the provider has sent `[DONE]` and before the client
 * receives it, so a client that has seen `[DONE]` can retrieve the completion. Its own step, since
 * its failure does not throw: the stream has answered 200 already, so it ends with an error event.
 * Returns undefined once written, else the error event that ends the stream instead of `[DONE]`.
 */
export async function storeStreamedCompletion(
  c: Context<AppEnv>,
  plan: CreatePlan,
  writes: CompletionWrites,
  { held, assembler, integers }: StreamedCompletion,
): Promise<string | undefined> {
  const { project } = c.get('tenant');
  try {
    // Taken all the same (another process on a SQLite file, a race of one statement on PostgreSQL): stored under
    // a fresh id the client does not learn (its chunks are gone), never overwriting.
    const id = await saveUnderFreeId(held.id, (candidate) => {
      const record = storedRecord(c, plan, assembler.result(candidate), candidate, integers);
      return candidate === held.id && held.heldInDatabase ? writes.saveHeld(project, record) : writes.writer.save(project, record);
    });
    writes.ids.remember(project, id);
    return undefined;
  } catch (err) {
    return notStored(err);
  }
}
