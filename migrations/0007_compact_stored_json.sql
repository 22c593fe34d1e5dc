-- Hand-written: the JSON texts stored before this migration, compacted as the store now writes them
-- (src/store/sqlite/stored-json.ts says how, and how reads put the parts back). A body loses its head
-- only where that head is exactly what the row's id, created and model columns rebuild; a message
-- loses its tail of nulls only where what remains does not end with `}`. Every other text stays whole.
-- Space freed in the file is reused by new rows; VACUUM returns it to the file system.
UPDATE `completions`
SET `body` = substr(`body`, length('{"id":"' || `id` || '","object":"chat.completion","created":' || `created` || ',"model":"' || `model` || '"') + 1)
WHERE typeof(`created`) = 'integer'
	AND substr(`body`, 1, length('{"id":"' || `id` || '","object":"chat.completion","created":' || `created` || ',"model":"' || `model` || '"'))
		= '{"id":"' || `id` || '","object":"chat.completion","created":' || `created` || ',"model":"' || `model` || '"'
	AND substr(`body`, length('{"id":"' || `id` || '","object":"chat.completion","created":' || `created` || ',"model":"' || `model` || '"') + 1, 1) IN (',', '}');
--> statement-breakpoint
UPDATE `input_messages`
SET `body` = substr(`body`, 1, length(`body`) - length(',"refusal":null,"name":null,"content_parts":null}'))
WHERE length(`body`) > length(',"refusal":null,"name":null,"content_parts":null}')
	AND substr(`body`, -length(',"refusal":null,"name":null,"content_parts":null}')) = ',"refusal":null,"name":null,"content_parts":null}'
	AND substr(`body`, -length(',"refusal":null,"name":null,"content_parts":null}') - 1, 1) <> '}';
