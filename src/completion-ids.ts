import { CompletionIdTaken, type Store } from './store/index.ts';
import { newCompletionId } from './wire.ts';

/** A control character, or half of a surrogate pair without its other half. */
const UNADDRESSABLE_CHARACTER = /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Ids the upstream hands out are kept when a client can address them (the SDKs
 * percent-encode path segments, so `/`, `%` or unicode are fine); an empty id,
 * `.` or `..` (which URL normalization swallows), control characters or
 * kilobytes get a fresh OpenAI-style id instead. So does an id with half a
 * surrogate pair (JSON's `"\ud800"`): it is not text, so no client can send it
 * back, and SQLite would keep its raw bytes while PostgreSQL keeps U+FFFD.
 */
export function isAddressable(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= 256 && id !== '.' && id !== '..' && !UNADDRESSABLE_CHARACTER.test(id);
}

export interface IdReservation {
  id: string;
  /** True when the upstream's id could not be kept: the client must be told the new one. */
  replaced: boolean;
  /** Held in the database against other instances (a stream's, on PostgreSQL): stored with `saveHeldCompletion`. */
  heldInDatabase: boolean;
  release(): void;
}

/** How many ids of completions it stored lately the allocator remembers (see `reserveForWrite`). */
const REMEMBERED_IDS = 4096;

/**
 * Decides the id a new completion is stored under, for the plain and the
 * streamed path alike. A stream learns its id at the first chunk but stores at
 * `[DONE]`, so ids are held from the decision until released: no two
 * completions in flight, streamed or not, can end up with one id.
 */
export function createIdAllocator(store: Pick<Store, 'holdStreamId' | 'releaseStreamId'>) {
  /** `project \0 id` of completions decided but not yet stored. */
  const held = new Set<string>();
  /** `project \0 id` of the completions stored last, oldest first. */
  const stored = new Set<string>();

  /**
   * What lets a held id go. Bound, not an arrow: the bundle names every arrow function made in an object literal
   * (keepNames' __name, about a microsecond on the create path), and a create makes one.
   */
  const releaseOf = (key: string) => held.delete.bind(held, key) as () => void;

  function holdFresh(project: string, upstreamId: unknown): IdReservation {
    const id = newCompletionId();
    const key = `${project}\0${id}`;
    held.add(key);
    return { id, replaced: id !== upstreamId, heldInDatabase: false, release: releaseOf(key) };
  }

  /**
   * Holds the id and keeps it when the database has never seen it; it is held here before the (async) look-up,
   * so no other caller of this process can take it meanwhile, and by the database against other instances
   * where they share it ('held'). Undefined when it is taken.
   */
  async function tryHold(project: string, id: string): Promise<'held' | 'free' | undefined> {
    const key = `${project}\0${id}`;
    if (held.has(key)) return undefined;
    held.add(key);
    let answer: 'held' | 'free' | 'taken';
    try {
      answer = await store.holdStreamId(project, id);
    } catch (err) {
      held.delete(key);
      throw err;
    }
    if (answer !== 'taken') return answer;
    held.delete(key);
    return undefined;
  }

  return {
    /** For a completion whose id the client learns before it is stored (a stream): the database is asked first. */
    async reserve(project: string, upstreamId: unknown): Promise<IdReservation> {
      const hold = isAddressable(upstreamId) ? await tryHold(project, upstreamId) : undefined;
      if (hold === undefined) return holdFresh(project, upstreamId);
      const key = `${project}\0${upstreamId}`;
      const heldInDatabase = hold === 'held';
      return {
        id: upstreamId as string,
        replaced: false,
        heldInDatabase,
        release: () => {
          held.delete(key);
          // Stored under it (remembered), the hold went with the insert; not stored, the id is made free again.
          if (heldInDatabase && !stored.has(key)) store.releaseStreamId(project, upstreamId as string).catch(() => {});
        },
      };
    },

    /**
     * For a completion written right away, whose id the client learns only
     * from the answer (a plain create): the database is not asked, since its
     * unique index judges the id at the insert anyway (see saveUnderFreeId);
     * that saves a read per create. An id stored lately by this process is
     * replaced at once, so a provider that repeats its ids does not fail a
     * group commit with each one.
     */
    reserveForWrite(project: string, upstreamId: unknown): IdReservation {
      if (!isAddressable(upstreamId)) return holdFresh(project, upstreamId);
      const key = `${project}\0${upstreamId}`;
      if (held.has(key) || stored.has(key)) return holdFresh(project, upstreamId);
      held.add(key);
      return { id: upstreamId, replaced: false, heldInDatabase: false, release: releaseOf(key) };
    },

    /** Remembers an id just stored (the most recent REMEMBERED_IDS). */
    remember(project: string, id: string): void {
      const key = `${project}\0${id}`;
      stored.delete(key);
      stored.add(key);
      if (stored.size > REMEMBERED_IDS) stored.delete(stored.values().next().value!);
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
