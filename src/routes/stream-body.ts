import { errorEvent } from '../streaming/error-events.ts';
import { type ProviderReads, streamBreakMessage } from '../streaming/provider-reads.ts';
import { closedEvent, type SseEvent, type SseParser } from '../streaming/sse.ts';
import { answerTooLarge, type ReadResult } from '../upstream/body-reading.ts';
import type { StreamRelay } from './stream-relay.ts';

/** What the client's stream is made from. */
export interface ClientStreamSource {
  reads: ProviderReads;
  parser: SseParser;
  relay: StreamRelay;
  /** Events read before the answer began (the first-event wait's), relayed first. */
  pending: SseEvent[];
  /** A stored stream: it must end with `[DONE]` or an error event, and its completion is written before `[DONE]`. */
  store: boolean;
}

/**
 * The client's stream: pulled (no buffer ahead of the client), so the provider is read only as fast as the
 * client takes its events, and each event goes out as soon as it is complete. Where it ends, and how: at
 * `[DONE]`, at an error (the provider's, a read that failed, an event past the limit), or when the client
 * goes away; in each case the provider's connection is let go and the id the stream held is released.
 */
export function clientStream(source: ClientStreamSource): ReadableStream<Uint8Array> {
  const pump = new ClientStreamPump(source);
  return new ReadableStream<Uint8Array>(
    {
      pull: (controller) => pump.pull(controller),
      cancel: (reason) => pump.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}

type Controller = ReadableStreamDefaultController<Uint8Array>;

/** The client stream's state between pulls: the events still to relay, and the ends it can come to. */
class ClientStreamPump {
  private readonly encoder = new TextEncoder();
  private readonly reads: ProviderReads;
  private readonly parser: SseParser;
  private readonly relay: StreamRelay;
  private readonly store: boolean;
  private pending: SseEvent[];

  constructor(source: ClientStreamSource) {
    this.reads = source.reads;
    this.parser = source.parser;
    this.relay = source.relay;
    this.store = source.store;
    this.pending = source.pending;
  }

  async pull(controller: Controller): Promise<void> {
    // Loops until something is forwarded: a pull that enqueues nothing is not called again.
    for (;;) {
      let events: SseEvent[] | undefined;
      if (this.pending.length > 0) {
        events = this.pending;
        this.pending = [];
      } else {
        events = await this.readEvents(controller);
        if (events === undefined) return;
      }
      if (await this.forward(events, controller)) return;
    }
  }

  async cancel(reason: unknown): Promise<void> {
    this.relay.end();
    await this.reads.cancel(reason);
  }

  /** The next events the provider completes; undefined when the stream has come to its end (or the client's went away). */
  private async readEvents(controller: Controller): Promise<SseEvent[] | undefined> {
    let result: ReadResult<Uint8Array>;
    try {
      result = await this.reads.next();
    } catch (err) {
      if (!this.relay.ended) this.finish(controller, errorEvent(streamBreakMessage(err)));
      return undefined;
    }
    // The client went away while we waited: cancel() has already cleaned up.
    if (this.relay.ended) return undefined;
    if (result.done) {
      await this.finishAtProviderEnd(controller);
      return undefined;
    }
    const events = this.parser.push(result.value);
    // Even an unstored stream holds an event until it is complete: one that never ends is cut at the limit.
    if (this.parser.pendingLength() > this.reads.limit) {
      this.reads.cancel();
      this.finish(controller, errorEvent(answerTooLarge(this.reads.limit).message));
      return undefined;
    }
    return events;
  }

  /**
   * The provider closed its stream: a last event it did not close with a blank line still counts, [DONE] included.
   * A stored stream the provider closed without [DONE] ends as StreamRelay.providerEnded() says.
   */
  private async finishAtProviderEnd(controller: Controller): Promise<void> {
    let out = '';
    for (const event of this.parser.end()) {
      out += this.closedIfGoingOn(event, await this.relay.textFor(event));
      if (this.relay.mustStop || this.relay.done) return this.finish(controller, out);
    }
    this.finish(controller, out + this.relay.providerEnded());
  }

  /** Relays the events; true when the pull is over (something went out, or the stream ended), false to read on. */
  private async forward(events: SseEvent[], controller: Controller): Promise<boolean> {
    let out = '';
    for (const event of events) {
      if (this.store && out !== '' && this.relay.isDone(event)) {
        // The chunks before [DONE] go out before the write to the database, not after it.
        controller.enqueue(this.encoder.encode(out));
        out = '';
        await new Promise((resolve) => setImmediate(resolve));
        if (this.relay.ended) return true;
      }
      out += this.closedIfGoingOn(event, await this.relay.textFor(event));
      if (this.relay.mustStop) {
        // Nothing more of this stream can be stored: the provider's connection is closed now.
        this.reads.cancel();
        this.finish(controller, out);
        return true;
      }
      if (this.relay.done) {
        // [DONE] ends the client's stream: a provider that holds its connection open after it
        // must not keep the client waiting, nor earn it an idle-timeout error after a [DONE].
        void this.reads.drainAfterDone();
        this.finish(controller, out);
        return true;
      }
    }
    if (out === '') return false;
    controller.enqueue(this.encoder.encode(out));
    return true;
  }

  /**
   * An event's text as relayed, closed by a blank line when the provider ended its stream before closing it and a
   * stored stream goes on after it (`[DONE]` or an error event of ours): run together, the client could read neither.
   */
  private closedIfGoingOn(event: SseEvent, text: string): string {
    return this.store && event.unclosed === true && text !== '' ? closedEvent(text) : text;
  }

  /** Ends the client's stream with this last text. */
  private finish(controller: Controller, text: string): void {
    this.relay.end();
    if (text !== '') controller.enqueue(this.encoder.encode(text));
    controller.close();
  }
}
