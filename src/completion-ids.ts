import type { Store } from './store.ts';
import { newCompletionId } from './wire.ts';

/**
 * Ids the upstream hands out are kept when a client can address them (the SDKs
 * percent-encode path segments, so `/`, `%` or unicode are fine); an empty id,
 * `.` or `..` (which URL normalization swallows), control characters or
 * kilobytes get a fresh OpenAI-style id instead.
 */
function isAddressable(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= 256 && id !== '.' && id !== '..' && !/[\u0000-\u001f\u007f]/.test(id);
}

export interface IdReservation {
  id: string;
  /** True when the upstream's id could not be kept: the client must be told the new one. */
  replaced: boolean;
  release(): void;
}

/**
 * Decides the id a new completion is stored under, for the plain and the
 * streamed path alike. A stream learns its id at the first chunk but stores at
 * `[DONE]`, so ids are held from the decision until released: no two
 * completions in flight, streamed or not, can end up with one id.
 */
export function createIdAllocator(store: Pick<Store, 'isIdTaken'>) {
  /** `project \0 id` of completions decided but not yet stored. */
  const held = new Set<string>();

  function isFree(project: string, id: string): boolean {
    return !held.has(`${project}\0${id}`) && !store.isIdTaken(project, id);
  }

  return {
    reserve(project: string, upstreamId: unknown): IdReservation {
      const id = isAddressable(upstreamId) && isFree(project, upstreamId) ? upstreamId : newCompletionId();
      const key = `${project}\0${id}`;
      held.add(key);
      return { id, replaced: id !== upstreamId, release: () => held.delete(key) };
    },
    /** The id to write under at store time: the reserved one unless another process took it meanwhile (never overwrite). */
    finalId(project: string, reservation: IdReservation): string {
      return store.isIdTaken(project, reservation.id) ? newCompletionId() : reservation.id;
    },
  };
}

export type IdAllocator = ReturnType<typeof createIdAllocator>;
