-- Hand-written: search now indexes Chinese, Japanese and Korean text as its characters and the pairs
-- of neighbouring characters (src/store/cjk-segments.ts); completions indexed before hold each run of
-- it as one token, so a search for part of a run does not find them. Every completion stored before
-- is queued here; the store goes through the queue when it opens (src/store/sqlite/search-requeue.ts),
-- in batches that each commit (a restart resumes), and indexes again those whose text holds such
-- characters. Looking for them there, in JavaScript, is twenty times faster than a GLOB here.
CREATE TABLE `search_requeue` (`seq` integer PRIMARY KEY NOT NULL);
--> statement-breakpoint
INSERT INTO `search_requeue` (`seq`) SELECT `seq` FROM `completions`;
