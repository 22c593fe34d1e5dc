/** A completion a test made, as the list's filters see it. */
export interface MadeCompletion {
  id: string;
  created: number;
  requestedModel: string;
  model: string;
  metadata: Record<string, string>;
}

/** The ids the contract says a list returns: the matching completions by (created, id), ids compared bytewise. */
export function idsInListOrder<T extends MadeCompletion>(from: T[], filter: (m: T) => boolean, order: 'asc' | 'desc'): string[] {
  const sorted = from
    .filter(filter)
    .sort((a, b) => a.created - b.created || Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)))
    .map((m) => m.id);
  return order === 'asc' ? sorted : sorted.reverse();
}
