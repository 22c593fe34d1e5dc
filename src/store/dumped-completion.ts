import { parseStoredMetadata } from '../key-order.ts';
import type { DumpItem } from './contract.ts';

/** A completion row as a dump reads it, with the model names already decoded by the backend. */
export interface DumpedRow {
  seq: number;
  project: string;
  id: string;
  created: number;
  storedAt: number;
  model: string;
  requestedModel: string;
  metadata: string;
  body: string;
}

/** One dumped completion, its choices and messages looked up by `seq`: the same record whichever backend dumped it. */
export function toDumpedCompletion(row: DumpedRow, choices: Map<number, string[]>, messages: Map<number, string[]>): DumpItem {
  return {
    kind: 'completion',
    project: row.project,
    record: {
      id: row.id,
      created: row.created,
      storedAt: row.storedAt,
      model: row.model,
      requestedModel: row.requestedModel,
      // In the stored text's order, which an object would change (integer-like keys first).
      metadata: parseStoredMetadata(row.metadata),
      body: row.body,
      choices: choices.get(row.seq) ?? [],
      messages: messages.get(row.seq) ?? [],
    },
  };
}
