import type { SqliteDatabase } from '../../src/db/client.ts';
import { bodySql, messageSql } from '../../src/store/sqlite/stored-json.ts';

/** Rewrites every stored body and message whole, as the store wrote them before migration 0007 compacted them. */
export function storeJsonWhole(db: SqliteDatabase): void {
  db.exec(`UPDATE completions SET body = ${bodySql('completions')}; UPDATE input_messages SET body = ${messageSql('body')};`);
}
