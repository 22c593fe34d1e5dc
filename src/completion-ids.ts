import { CompletionIdTaken, type Store } from './store/index.ts';
import { newCompletionId } from './wire.ts';

/**
 * Ids the upstream hands out are kept when a client can address them (the SDKs
 * percent-encode path segments, so `/`, `%` or unicode are fine); an empty id,
 * `.` or `..` (which URL normalization swallows), control characters or
 * kilobytes get a fresh OpenAI-style id instead.
 */
export function isAddressable(id: unknown): id is string {
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

  /** Holds the id and keeps it when the database has never seen it; it is held before the (async) look-up, so no other caller can take it meanwhile. */
  async function tryHold(project: string, id: string): Promise<boolean> {
    const key = `${project}\0${id}`;
    if (held.has(key)) return false;
    held.add(key);
    try {
      if (!(await store.isIdTaken(project, id))) return true;
    } catch (err) {
      held.delete(key);
      throw err;
    }
    held.delete(key);
    return false;
  }

  return {
    async reserve(project: string, upstreamId: unknown): Promise<IdReservation> {
      let id = isAddressable(upstreamId) && (await tryHold(project, upstreamId)) ? upstreamId : undefined;
      if (id === undefined) {
        id = newCompletionId();
        held.add(`${project}\0${id}`);
      }
      const key = `${project}\0${id}`;
      return { id, replaced: id !== upstreamId, release: () => held.delete(key) };
    },
  };
}

export type IdAllocator = ReturnType<typeof createIdAllocator>;

/**
 * Saves under `id`, or under a fresh one when the database refuses it because
 * another process on the same file stored that id since it was reserved
 * (nothing is ever overwritten); returns the id the completion is stored under.
 * A fresh id is random, so a second refusal would be a freak: a third is an error.
 */
export async function saveUnderFreeId(id: string, save: (id: string) => Promise<void>): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      await save(id);
      return id;
    } catch (err) {
      if (!(err instanceof CompletionIdTaken) || attempt === 3) throw err;
      id = newCompletionId();
    }
  }
}
