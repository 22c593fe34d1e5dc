-- FTS5 rewrites a whole segment of the search index inside the write that finds a tenth of its rows deleted
-- (`deletemerge`, default 10, for contentless_delete tables): a retention sweep's 250-row batch, or a create
-- right after one, then held the write lock and the event loop for up to 1.6 s at 100,000 completions. Off here;
-- the sweep reclaims what deletes leave in the index with merge steps of its own, each a short transaction
-- (src/retention.ts, src/store/sqlite/search-merge.ts).
INSERT INTO `completion_search` (`completion_search`, `rank`) VALUES ('deletemerge', 0);
