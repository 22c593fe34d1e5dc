export type {
  Answered,
  CompletionRecord,
  CompletionListJson,
  CompletionRow,
  DumpItem,
  ListPlan,
  MessageRow,
  Page,
  Store,
  UsageRow,
  UsageSummary,
  WalkedIndex,
} from './contract.ts';
export { CompletionIdTaken } from './contract.ts';
export type { MetadataChange, MetadataChangeResult, MetadataOutcome } from './metadata-change.ts';
export { createSqliteStore, type SqliteStoreOptions } from './sqlite/index.ts';
export { createPostgresStore, type PostgresStoreOptions } from './postgres/index.ts';
