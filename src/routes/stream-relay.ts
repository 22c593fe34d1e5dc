import type { Context } from 'hono';
import type { AppEnv } from '../app-env.ts';
import type { IdReservation } from '../completion-ids.ts';
import { type ExactIntegers, findUnsafeIntegers, mergeExactIntegers, withExactIntegers } from '../exact-integers.ts';
import type { Json } from '../json.ts';
import { jsonTextInWrittenOrder } from '../key-order.ts';
import { createCompletionAssembler } from '../streaming/assemble.ts';
import { readEvent } from '../streaming/chunk-event.ts';
import { errorEvent, NO_CHUNK_MESSAGE, notStored, relayedError, UNFINISHED_MESSAGE } from '../streaming/error-events.ts';
import { type SseEvent, withData } from '../streaming/sse.ts';
import { createUsageHiding, type UsageHiding } from '../streaming/usage-hiding.ts';
import type { CreatePlan } from './create-plan.ts';
import type { CompletionWrites } from './store-and-answer.ts';
import { storeStreamedCompletion } from './stream-store.ts';

/**
 * What each of the provider's events becomes for the client, one event at a time, and what a stored
 * stream keeps of them meanwhile: the id it is stored under, its chunks assembled, the completion
 * written at `[DONE]`. One object, since these decisions share the stream's state: the id decided at
 * the first chunk rewrites every later one, and `[DONE]` is only relayed once the write succeeded.
 * An unstored stream is relayed untouched; only its `[DONE]` is noted.
 */
export class StreamRelay {
  /** The id the completion is stored under, decided at its first chunk. */
  private reservation: IdReservation | undefined;
  private readonly assembler = createCompletionAssembler();
  private readonly usage: UsageHiding;
  private readonly project: string;
  private sawChunk = false;
  /** The chunks' integers past 2^53 as the provider wrote them, for the stored completion. */
  private answerIntegers: ExactIntegers | undefined;
  private stopAfter = false;
  private doneSeen = false;
  private clientGone = false;

  constructor(
    private readonly c: Context<AppEnv>,
    private readonly plan: CreatePlan,
    private readonly writes: CompletionWrites,
    hideUsage: boolean,
  ) {
    this.usage = createUsageHiding(hideUsage);
    this.project = c.get('tenant').project;
  }

  /** A stored stream that must end after what textFor() returned: the provider sent an error or no chunk, or the write failed. */
  get mustStop(): boolean {
    return this.stopAfter;
  }

  /** The provider's `[DONE]` has been relayed: the client's stream ends with it. */
  get done(): boolean {
    return this.doneSeen;
  }

  /** The client's stream has ended (finished, or cancelled by a client that went away). */
  get ended(): boolean {
    return this.clientGone;
  }

  /** The client's stream has ended: the id it held is let go. */
  end(): void {
    this.clientGone = true;
    this.reservation?.release();
  }

  /** Whether this event is the provider's `[DONE]` (the first one; anything after it is relayed as it came). */
  isDone(event: SseEvent): boolean {
    return !this.doneSeen && event.data?.trim() === '[DONE]';
  }

  /** Decides the id from the first chunk; throws when it cannot be held (the database cannot be asked). */
  async reserve(firstChunk: Json): Promise<void> {
    this.reservation = await this.writes.ids.reserve(this.project, firstChunk.id);
  }

  /**
   * What to forward for one upstream event ('' to forward nothing). A chunk is made into text without a
   * further await (chunkText): the hot path costs one promise per event, not one per step.
   */
  async textFor(event: SseEvent): Promise<string> {
    // An `event: error` without data is still the provider's error (the SDKs raise it): not a keep-alive.
    if (this.doneSeen || (event.data === undefined && event.type !== 'error')) return event.raw;
    if (this.isDone(event)) return this.relayDone(event);
    if (!this.plan.store) return event.raw;
    const read = readEvent(event);
    if (!('chunk' in read)) {
      this.stopAfter = true;
      return 'providerError' in read ? relayedError(event.data ?? '', event.raw) : read.errorEvent;
    }
    if (this.reservation === undefined) {
      const unstored = await this.reserveMidStream(read.chunk);
      if (unstored !== undefined) return unstored;
    }
    return this.chunkText(event, read.chunk, read.reshaped === true);
  }

  /**
   * The provider closed its stream (cleanly: a dropped connection is a failed read) without `[DONE]`: a stored stream
   * ends with an error event and nothing stored, even when every choice has its `finish_reason` (SPEC.md stores at
   * `[DONE]` only; docs/decisions.md). An unstored stream, or one already ended, gets nothing more.
   */
  providerEnded(): string {
    if (!this.plan.store || this.doneSeen || this.stopAfter) return '';
    this.stopAfter = true;
    return errorEvent(UNFINISHED_MESSAGE);
  }

  /** `[DONE]`: a stored stream's completion is written first, and only a successful write lets the client see it. */
  private async relayDone(event: SseEvent): Promise<string> {
    this.doneSeen = true;
    if (this.plan.store && !this.sawChunk) {
      this.stopAfter = true;
      return errorEvent(NO_CHUNK_MESSAGE);
    }
    const unsaved = this.plan.store ? await this.save() : undefined;
    if (unsaved !== undefined) {
      this.stopAfter = true;
      return unsaved;
    }
    // Stored, so the client must take it for the end: `data:  [DONE] ` (spaces) ended the stream here, but the
    // SDKs read only `[DONE]` itself as the end and would raise on it, and retry a stream that was stored.
    return this.plan.store && event.data !== '[DONE]' ? 'data: [DONE]\n\n' : event.raw;
  }

  /** Writes the assembled completion; undefined once written, else the error event that ends the stream instead. */
  private async save(): Promise<string | undefined> {
    if (!this.sawChunk || this.reservation === undefined) return undefined;
    return storeStreamedCompletion(this.c, this.plan, this.writes, { held: this.reservation, assembler: this.assembler, integers: this.answerIntegers });
  }

  /** A stored stream's chunk, its id held: assembled, and relayed as the client must see it (the id it is stored under, usage it asked for). */
  private chunkText(event: SseEvent, chunk: Json, reshaped: boolean): string {
    const held = this.reservation!;
    this.sawChunk = true;
    this.assembler.add(chunk);
    // A chunk was read from its data.
    const chunkIntegers = findUnsafeIntegers(event.data!);
    this.answerIntegers = mergeExactIntegers(this.answerIntegers, chunkIntegers);
    const usage = this.usage.verdict(chunk);
    if (usage === 'drop') return '';
    // A fresh id, or a provider whose chunks carry different ids: every chunk carries the id it is stored under.
    const rewriteId = held.replaced || chunk.id !== held.id;
    if (!rewriteId && usage === 'keep' && !reshaped) return event.raw;
    const changed: Json = { ...chunk };
    if (rewriteId) changed.id = held.id;
    if (usage === 'strip') delete changed.usage;
    return withData(event.raw, withExactIntegers(jsonTextInWrittenOrder(changed), chunkIntegers));
  }

  /**
   * A stream whose answer began before its first chunk (keep-alives, a slow first token) decides its id here.
   * Returns the error event that ends the stream when the id cannot be held.
   */
  private async reserveMidStream(chunk: Json): Promise<string | undefined> {
    try {
      await this.reserve(chunk);
    } catch (err) {
      this.stopAfter = true;
      return notStored(err);
    }
    // The client went away meanwhile: cancel() found nothing to let go of yet.
    if (this.clientGone) this.reservation?.release();
    return undefined;
  }
}
