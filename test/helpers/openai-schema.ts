/**
 * Validate HTTP response bodies against OpenAI's own JSON schemas.
 *
 * The schemas come from test/fixtures/openai-schemas.json, generated from
 * OpenAI's OpenAPI document by `node scripts/extract-openai-schemas.mjs`
 * (see the header of that script). Validation uses Ajv (JSON Schema 2020-12,
 * strict mode) plus ajv-formats; compiled validators are cached per schema.
 *
 * Note: none of these schemas use `additionalProperties: false`, so extra
 * fields (e.g. request_id, seed, tools, metadata, input_user on stored
 * completions) are accepted; only the documented fields are checked.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

export type OpenAISchemaName =
  | 'ChatCompletionList'
  | 'CreateChatCompletionResponse'
  | 'ChatCompletionDeleted'
  | 'ChatCompletionMessageList'
  | 'CreateChatCompletionStreamResponse'
  | 'ErrorResponse';

type JsonSchema = Record<string, any>;

const FIXTURE_URL = new URL('../fixtures/openai-schemas.json', import.meta.url);
const DOC_ID = 'https://stored-completions.test/openai-schemas.json';

/**
 * The roles a stored message can carry: whatever role the input message had,
 * plus the assistant's response.
 */
const STORED_MESSAGE_ROLES = ['system', 'user', 'developer', 'tool', 'assistant', 'function'];
const MESSAGE_LIST_ITEM_DEF = 'ChatCompletionMessageListItemMessage';

function loadSchemas(): JsonSchema {
  const doc = JSON.parse(readFileSync(FIXTURE_URL, 'utf8')) as JsonSchema;
  const defs = doc.$defs as Record<string, JsonSchema>;

  // Documented exception (the only change to OpenAI's schemas):
  // ChatCompletionMessageList items are `allOf: [ChatCompletionResponseMessage, {id, content_parts}]`,
  // and ChatCompletionResponseMessage pins `role` to `enum: ['assistant']`. That is right for
  // a chat.completion's choices[].message, but the message list (GET /chat/completions/{id}/messages)
  // returns the stored *input* messages, whose role is the input's role (system, user, developer,
  // tool, ...). OpenAI's schema inherits the assistant-only enum there by mistake. We copy the
  // message schema with only `properties.role.enum` widened, and point only the list item at the
  // copy; CreateChatCompletionResponse and everything else still use the original.
  const listItem = defs.ChatCompletionMessageList?.properties?.data?.items;
  const base = listItem?.allOf?.[0];
  const original = defs.ChatCompletionResponseMessage;
  if (
    base?.$ref !== '#/$defs/ChatCompletionResponseMessage' ||
    !Array.isArray(original?.properties?.role?.enum)
  ) {
    throw new Error(
      'openai-schemas.json changed shape: ChatCompletionMessageList items no longer start with ' +
        '$ref ChatCompletionResponseMessage (with a role enum); revisit the role exception in ' +
        'test/helpers/openai-schema.ts',
    );
  }
  const relaxed = structuredClone(original);
  relaxed.properties.role = { ...relaxed.properties.role, enum: STORED_MESSAGE_ROLES };
  defs[MESSAGE_LIST_ITEM_DEF] = relaxed;
  listItem.allOf[0] = { $ref: `#/$defs/${MESSAGE_LIST_ITEM_DEF}` };

  return { ...doc, $id: DOC_ID };
}

let ajv: Ajv2020 | undefined;
const validators = new Map<OpenAISchemaName, ValidateFunction>();

function getAjv(): Ajv2020 {
  if (ajv) return ajv;
  const instance = new Ajv2020({ strict: true, allErrors: true });
  // ajv-formats is CommonJS; under ESM interop the function may sit on `.default`.
  const addFormats = ((addFormatsModule as any).default ?? addFormatsModule) as (a: Ajv2020) => void;
  addFormats(instance);
  // `unixtime` is an OpenAI-specific format (Unix timestamp in seconds) that Ajv does not know;
  // the schemas already require `type: integer`, so the format only adds "not negative".
  instance.addFormat('unixtime', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= 0 });
  instance.addSchema(loadSchemas());
  ajv = instance;
  return instance;
}

function getValidator(schemaName: OpenAISchemaName): ValidateFunction {
  let validate = validators.get(schemaName);
  if (!validate) {
    const found = getAjv().getSchema(`${DOC_ID}#/$defs/${schemaName}`);
    if (!found) throw new Error(`Unknown OpenAI schema: ${schemaName}`);
    validate = found;
    validators.set(schemaName, validate);
  }
  return validate;
}

function formatError(e: ErrorObject): string {
  const where = e.instancePath === '' ? '(root)' : e.instancePath;
  const params = Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : '';
  return `  ${where}: ${e.message ?? e.keyword}${params} [schema ${e.schemaPath}]`;
}

/** Throws an Error listing Ajv's errors when `body` does not match OpenAI's schema `schemaName`. */
export function assertMatchesSchema(schemaName: OpenAISchemaName, body: unknown): void {
  const validate = getValidator(schemaName);
  if (validate(body)) return;
  const errors = (validate.errors ?? []).map(formatError).join('\n');
  throw new Error(`Body does not match OpenAI schema ${schemaName}:\n${errors}`);
}
