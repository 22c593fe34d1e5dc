-- Hand-written (drizzle-kit has no notion of virtual tables): the full-text index of `search`,
-- and the backfill of token columns, the usage rollup and the index for completions stored before.
--
-- completion_search: one row per completion, rowid = completions.seq. `project` holds the project
-- id as a token, so a search's match count can be taken within one project; `text` holds the
-- text of the input messages and replies (src/store/search-text.ts says which). Contentless
-- (the text is already in input_messages and choices) with contentless_delete, so a delete or a
-- retention sweep removes a row by its rowid alone. Positions are kept (detail=full): a word that
-- punctuation splits ("don't", "e-mail") is matched as adjacent tokens.
CREATE VIRTUAL TABLE `completion_search` USING fts5(
	`project`, `text`, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
);
--> statement-breakpoint
UPDATE `completions` SET
	`prompt_tokens` = CASE WHEN json_type(`body`, '$.usage.prompt_tokens') = 'integer' THEN max(0, json_extract(`body`, '$.usage.prompt_tokens')) ELSE 0 END,
	`completion_tokens` = CASE WHEN json_type(`body`, '$.usage.completion_tokens') = 'integer' THEN max(0, json_extract(`body`, '$.usage.completion_tokens')) ELSE 0 END,
	`total_tokens` = CASE WHEN json_type(`body`, '$.usage.total_tokens') = 'integer' THEN max(0, json_extract(`body`, '$.usage.total_tokens')) ELSE 0 END;
--> statement-breakpoint
INSERT INTO `usage_daily` (`project_id`, `day`, `model`, `requested_model`, `completions`, `prompt_tokens`, `completion_tokens`, `total_tokens`)
SELECT `project_id`, (`created` - ((`created` % 86400) + 86400) % 86400) / 86400, `model`, `requested_model`,
	count(*), sum(`prompt_tokens`), sum(`completion_tokens`), sum(`total_tokens`)
FROM `completions` GROUP BY 1, 2, 3, 4;
--> statement-breakpoint
INSERT INTO `completion_search` (`rowid`, `project`, `text`)
SELECT c.`seq`, c.`project_id`,
	coalesce((SELECT group_concat(json_extract(m.`body`, '$.content'), char(10)) FROM `input_messages` m
		WHERE m.`completion_seq` = c.`seq` AND json_type(m.`body`, '$.content') = 'text'), '')
	|| char(10) ||
	coalesce((SELECT group_concat(t.`value`, char(10)) FROM `choices` ch, json_each(ch.`body`, '$.message') t
		WHERE ch.`completion_seq` = c.`seq` AND t.`key` IN ('content', 'refusal') AND t.`type` = 'text'), '')
FROM `completions` c;
