import { ApiError } from '../errors.ts';
import { answerTooLarge, type ReadResult, readWithin, UpstreamIdleTimeout } from '../upstream/body-reading.ts';

/** How much a provider may still send after `[DONE]` before its connection is closed rather than read to its end. */
const AFTER_DONE_LIMIT_BYTES = 64 * 1024;

/**
 * A streamed answer's reads from the provider, in one place, since several steps take them (the wait for
 * the first event, the relay, the drain after `[DONE]`): each read under the idle timeout, a stored
 * stream's bounded in total (it is assembled in memory), and a read the first-event wait stopped
 * waiting for taken before any new one.
 */
export class ProviderReads {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private received = 0;
  /** A read the first-event wait stopped waiting for: the next one the stream takes. */
  private unread: Promise<ReadResult<Uint8Array>> | undefined;

  /**
   * @param limit the response limit: a stored stream's whole answer, and any stream's one event, may not grow past it.
   * @param capTotal a stored stream: its answer is held in memory, so its total counts against the limit.
   */
  constructor(
    body: ReadableStream<Uint8Array> | null,
    private readonly idleMs: number,
    readonly limit: number,
    private readonly capTotal: boolean,
  ) {
    this.reader = (body ?? new ReadableStream<Uint8Array>({ start: (ctl) => ctl.close() })).getReader();
  }

  /** One read from the provider. */
  async read(): Promise<ReadResult<Uint8Array>> {
    const result = await readWithin(this.reader, this.idleMs);
    if (!result.done && this.capTotal && (this.received += result.value.byteLength) > this.limit) {
      this.cancel();
      throw answerTooLarge(this.limit);
    }
    return result;
  }

  /** Keeps a read still under way, to be the next one taken. */
  leave(unread: Promise<ReadResult<Uint8Array>> | undefined): void {
    this.unread = unread;
  }

  /** The next read: the one left under way, else a new one. */
  next(): Promise<ReadResult<Uint8Array>> {
    const taken = this.unread ?? this.read();
    this.unread = undefined;
    return taken;
  }

  /** Closes the provider's connection: nothing more of it is wanted. */
  cancel(reason?: unknown): Promise<void> {
    return this.reader.cancel(reason).catch(() => {});
  }

  /**
   * Reads what a provider sends after `[DONE]`, in the background, to its end: usually nothing is
   * left, and a response read to its end lets its connection be reused. One that lingers past the
   * idle timeout, or goes on sending, is closed.
   */
  async drainAfterDone(): Promise<void> {
    let received = 0;
    try {
      for (;;) {
        const result = await readWithin(this.reader, this.idleMs);
        if (result.done) return;
        if ((received += result.value.byteLength) > AFTER_DONE_LIMIT_BYTES) break;
      }
    } catch {
      // Timed out (readWithin has cancelled it) or dropped: nothing more to read either way.
    }
    this.cancel();
  }
}

/** What a failed read from the provider becomes while the client has no answer yet. */
export function readFailure(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof UpstreamIdleTimeout) return new ApiError(504, err.message, 'server_error');
  return new ApiError(502, 'The upstream provider closed the connection before its response was complete.', 'server_error');
}

/** What a failed read from the provider becomes once the client's stream has begun: the message of its error event. */
export function streamBreakMessage(err: unknown): string {
  return err instanceof UpstreamIdleTimeout || err instanceof ApiError ? err.message : 'The upstream provider closed the connection before the stream finished.';
}
