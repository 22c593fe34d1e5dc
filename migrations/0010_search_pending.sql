-- Hand-written: completions stored by the service whose search index rows are still to be written
-- (src/store/sqlite/search-pending.ts). A completion's row and its line here commit together; the
-- index rows follow a moment later, many to a transaction, and any search first indexes what is
-- pending, so a search never misses an acknowledged completion. FTS5 writes a segment per
-- transaction: writing one per stored create was half of a lone create's CPU time.
CREATE TABLE `search_pending` (`seq` integer PRIMARY KEY NOT NULL);
