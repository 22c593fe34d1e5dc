export type { CompletionRecord, CompletionRow, DumpItem, ListPlan, MessageRow, Page, Store, WalkedIndex } from './contract.ts';
export { CompletionIdTaken } from './contract.ts';
export { createSqliteStore } from './sqlite/index.ts';
export { createPostgresStore } from './postgres/index.ts';
