/** Below this many bytes a spliced body is sent as one buffer: copying it costs less than writing it in pieces. */
const COPY_BELOW_BYTES = 64 * 1024;

/**
 * A body put together from ranges of another (`source`) and a few texts of its own, in order, without copying the
 * source: ranges that follow each other in it, and a literal byte the source has right where the body goes on, join
 * one slice. A compact JSON body with a member cut out is two slices of the client's bytes and a brace.
 */
export class BodySplice {
  readonly #source: Uint8Array;
  readonly #parts: Uint8Array[] = [];
  /** The source range being extended: [from, to). Empty at the start, so a body that starts as the source does joins it. */
  #from = 0;
  #to = 0;

  constructor(source: Uint8Array) {
    this.#source = source;
  }

  /** The source's bytes from `start` to `end`. */
  range(start: number, end: number): void {
    if (start !== this.#to) {
      this.#flush();
      this.#from = start;
    }
    this.#to = end;
  }

  /** A one-byte ASCII `char`: the source's own byte when it is next there. */
  literal(char: string): void {
    const byte = char.charCodeAt(0);
    if (this.#to >= 0 && this.#source[this.#to] === byte) this.#to++;
    else this.text(char);
  }

  /** Text of the body's own, as UTF-8. */
  text(text: string): void {
    this.#flush();
    this.#parts.push(Buffer.from(text));
  }

  #flush(): void {
    if (this.#to > this.#from) this.#parts.push(this.#source.subarray(this.#from, this.#to));
    this.#from = -1;
    this.#to = -1;
  }

  /** The body: one buffer when it is one slice or small, else its pieces (sent as they are, see UpstreamRequest.body). */
  parts(): Uint8Array | Uint8Array[] {
    this.#flush();
    const parts = this.#parts;
    if (parts.length === 1) return parts[0]!;
    const size = parts.reduce((sum, part) => sum + part.byteLength, 0);
    return size < COPY_BELOW_BYTES ? Buffer.concat(parts, size) : parts;
  }
}
