-- Hand-written: search now indexes Chinese, Japanese and Korean text as its characters and the pairs
-- of neighbouring characters (src/store/cjk-segments.ts); completions indexed before hold each run of
-- it as one token, so a search for part of a run does not find them. Emptying their search columns
-- hands them to the start-up backfill (src/store/postgres/search-backfill.ts), which indexes them
-- again before the instance serves. The test is wider than those scripts (the same code point ranges
-- as SQLite's migration 0009): indexing a text without any again changes nothing.
UPDATE "completions" SET "search_keys" = NULL, "search_text" = NULL
WHERE "search_text" ~ '[\u1100-\u11ff\u2e80-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff00-\uffef\U00016fe0-\U00016fff\U0001aff0-\U0001b16f\U0001f200-\U0001f2ff\U00020000-\U0003ffff]';
