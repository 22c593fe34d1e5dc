/**
 * A server-sent events reader that keeps each event's exact text, so the proxy
 * can forward an event byte for byte (fields we do not know included) and only
 * re-serialize the few it has to change.
 */

export interface SseEvent {
  /** The event's text as received, up to and including the blank line that ended it. */
  raw: string;
  /** The `data:` lines joined by "\n"; undefined for an event without data (a comment or keep-alive). */
  data: string | undefined;
  /** The `event:` field (`error` from some providers), undefined without one. */
  type?: string;
  /** The stream ended before the blank line that closes an event: `raw` has none (see closedEvent). */
  unclosed?: true;
}

export interface SseParser {
  /** Feeds bytes as they arrive; returns the events they completed. */
  push(bytes: Uint8Array): SseEvent[];
  /** Text received after the last complete event (an event the upstream never finished). */
  pending(): string;
  /** The length of `pending()`, without building it: what an event that never ends holds in memory. */
  pendingLength(): number;
  /**
   * The stream has ended: returns what is left as a last event (a final line
   * without its blank line, `data: [DONE]\n` and close, or a lone `\r` ending),
   * as clients that read the provider directly accept it. Nothing is pending after.
   */
  end(): SseEvent[];
}

export function createSseParser(): SseParser {
  // `stream: true` keeps a multi-byte character split across two reads intact.
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  /**
   * Text of a line still without its end, read after `buffer`: kept in pieces, not appended to
   * `buffer` and scanned again on every read, which made an event that never ends cost time in
   * the square of its length (a minute of CPU to reach the 64 MiB limit).
   */
  let held: string[] = [];
  let heldLength = 0;
  let eventRaw = '';
  let dataLines: string[] = [];
  let eventType: string | undefined;

  /** The event read so far, and a fresh one begun. */
  function dispatch(events: SseEvent[]): void {
    const event: SseEvent = { raw: eventRaw, data: dataLines.length === 0 ? undefined : dataLines.join('\n') };
    if (eventType !== undefined) event.type = eventType;
    events.push(event);
    eventRaw = '';
    dataLines = [];
    eventType = undefined;
  }

  /** `buffer` with the held pieces joined onto it: done once per line end that arrives, not per read. */
  function takeHeld(): void {
    if (held.length === 0) return;
    buffer += held.join('');
    held = [];
    heldLength = 0;
  }

  function takeLine(line: string, terminator: string, events: SseEvent[]): void {
    eventRaw += line + terminator;
    if (line === '') {
      dispatch(events);
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    if (field !== 'data' && field !== 'event') return;
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') eventType = value;
    else dataLines.push(value);
  }

  return {
    push(bytes) {
      const text = decoder.decode(bytes, { stream: true });
      // No line ends here, and none pending in `buffer` (a lone "\r" may be half of "\r\n"): nothing to scan.
      if (!buffer.endsWith('\r') && text.indexOf('\n') === -1 && text.indexOf('\r') === -1) {
        held.push(text);
        heldLength += text.length;
        return [];
      }
      takeHeld();
      buffer += text;
      const events: SseEvent[] = [];
      let start = 0;
      for (;;) {
        const lf = buffer.indexOf('\n', start);
        const cr = buffer.indexOf('\r', start);
        if (lf === -1 && cr === -1) break;
        if (cr !== -1 && (lf === -1 || cr < lf)) {
          // A trailing "\r" may be the first half of "\r\n": wait for the next read.
          if (cr === buffer.length - 1) break;
          const crlf = buffer[cr + 1] === '\n';
          takeLine(buffer.slice(start, cr), crlf ? '\r\n' : '\r', events);
          start = cr + (crlf ? 2 : 1);
        } else {
          takeLine(buffer.slice(start, lf), '\n', events);
          start = lf + 1;
        }
      }
      buffer = buffer.slice(start);
      return events;
    },
    pending() {
      return eventRaw + buffer + held.join('');
    },
    pendingLength() {
      return eventRaw.length + buffer.length + heldLength;
    },
    end() {
      takeHeld();
      buffer += decoder.decode();
      const events: SseEvent[] = [];
      // push() has taken every complete line: at most one unterminated line is left, maybe ending in a lone "\r".
      if (buffer.endsWith('\r')) takeLine(buffer.slice(0, -1), '\r', events);
      else if (buffer !== '') takeLine(buffer, '', events);
      buffer = '';
      if (eventRaw !== '') {
        dispatch(events);
        events.at(-1)!.unclosed = true;
      }
      return events;
    },
  };
}

/**
 * `raw`, an event's text, with its data replaced by `data`: its other lines (comments, `event:`,
 * `id:`, `retry:`) and line endings kept as the provider wrote them, its data lines become one.
 */
export function withData(raw: string, data: string): string {
  let out = '';
  let written = false;
  for (const [, line = '', ending = ''] of raw.matchAll(/([^\r\n]*)(\r\n|\r|\n|$)/g)) {
    if (line === '' && ending === '') break;
    const isData = line === 'data' || line.startsWith('data:');
    if (!isData) out += line + ending;
    else if (!written) {
      out += `data: ${data}${ending}`;
      written = true;
    }
  }
  return closedEvent(out);
}

/**
 * An event's text closed by a blank line: one the provider never closed (its stream ended instead) is closed
 * here, when the client's stream goes on after it (a chunk re-written, an error event or `[DONE]` of ours).
 */
export function closedEvent(raw: string): string {
  return /(\r\n|\r|\n)(\r\n|\r|\n)$/.test(raw) ? raw : raw.replace(/(\r\n|\r|\n)?$/, '\n\n');
}

/** One event in the form the upstream itself uses. */
export function formatSseData(data: string): string {
  return `data: ${data}\n\n`;
}
