/** A JSON object as parsed from a request or a provider's response. */
export type Json = Record<string, unknown>;

/** True for a JSON object: not null, not an array. */
export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Deeper JSON is not stored (a provider's answer, an imported or mirrored line): serializing the
 * record (JSON.stringify recurses) overflows the stack some thousands of levels down. Twice a request
 * body's limit, so an answer echoing a request as deep as one may be, a level or two further in, passes.
 */
export const MAX_STORED_JSON_DEPTH = 256;

/** True when `value` has objects or arrays nested more than `max` levels deep (walked without recursion, so any depth is safe to ask about). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}
