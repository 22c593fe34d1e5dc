import type { CompletionRecord, Store } from '../store/index.ts';

/**
 * Stores a batch of imported completions in one transaction, skipping ids the
 * project already has (stored or deleted) and ids repeated in the batch.
 * TODO(store split): becomes one store call that checks and writes in the same transaction.
 */
export async function saveImported(store: Store, project: string, records: CompletionRecord[]): Promise<{ stored: number; skipped: number }> {
  const seen = new Set<string>();
  const fresh: CompletionRecord[] = [];
  for (const record of records) {
    if (seen.has(record.id) || (await store.isIdTaken(project, record.id))) continue;
    seen.add(record.id);
    fresh.push(record);
  }
  if (fresh.length > 0) await store.saveCompletions(project, fresh);
  return { stored: fresh.length, skipped: records.length - fresh.length };
}
