#!/usr/bin/env node
/**
 * extract-openai-schemas.mjs
 *
 * What it does
 *   Reads OpenAI's OpenAPI document (default: ../shared/openai/openapi.yaml,
 *   relative to the project root) and writes test/fixtures/openai-schemas.json:
 *   a standalone JSON Schema (draft 2020-12) document whose `$defs` hold the
 *   response-body schemas our HTTP API must match
 *
 *     ChatCompletionList, CreateChatCompletionResponse, ChatCompletionDeleted,
 *     ChatCompletionMessageList, CreateChatCompletionStreamResponse, ErrorResponse
 *
 *   plus every schema they reach transitively through
 *   `$ref: '#/components/schemas/X'`. The fixture is committed, so the test
 *   suite (test/helpers/openai-schema.ts) needs only this repository.
 *
 *   Conversion from OpenAPI to plain JSON Schema (so Ajv strict mode accepts it):
 *     - `$ref: '#/components/schemas/X'`  ->  `$ref: '#/$defs/X'`
 *     - `nullable: true` (OpenAPI 3.0 style, still used in places by OpenAI's
 *       3.1 document)  ->  `anyOf: [<schema>, { type: 'null' }]`. Wrapping, rather
 *       than `type: [T, 'null']`, also lets null through an `enum` and works
 *       next to a `$ref`.
 *     - dropped: `x-*` extensions, `discriminator` (the oneOf branches are
 *       already mutually exclusive by their `type` enum), `example`,
 *       `examples`, `xml`, `externalDocs`. Any other keyword that is not JSON
 *       Schema 2020-12 is dropped with a warning on stderr.
 *     - kept: standard annotations (title, description, default, deprecated,
 *       readOnly, writeOnly) and `format`. Note `format: unixtime` is an
 *       OpenAI-specific format: the helper registers it with Ajv.
 *   Output is deterministic: object keys sorted recursively, 2-space indent,
 *   trailing newline; the `$comment` records the source's API version and
 *   sha256, never a path or a timestamp.
 *
 * How to rerun (from the project root, after updating the OpenAPI document)
 *   node scripts/extract-openai-schemas.mjs                 # default input
 *   node scripts/extract-openai-schemas.mjs path/to/openapi.yaml
 *   A CLI path is resolved against the current directory. Then run
 *   `npx vitest run test/openai-schema.test.ts` and commit the fixture.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const ROOT_SCHEMAS = [
  'ChatCompletionList',
  'CreateChatCompletionResponse',
  'ChatCompletionDeleted',
  'ChatCompletionMessageList',
  'CreateChatCompletionStreamResponse',
  'ErrorResponse',
];

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const inputPath = process.argv[2]
  ? resolve(process.cwd(), process.argv[2])
  : resolve(projectRoot, '../shared/openai/openapi.yaml');
const outputPath = resolve(projectRoot, 'test/fixtures/openai-schemas.json');

const COMPONENT_REF = /^#\/components\/schemas\/([^/]+)$/;

// Keywords whose value is a single subschema (or boolean schema).
const SCHEMA_KEYWORDS = new Set([
  'additionalProperties', 'unevaluatedProperties', 'unevaluatedItems',
  'items', 'contains', 'not', 'if', 'then', 'else', 'propertyNames',
  'contentSchema',
]);
// Keywords whose value is an array of subschemas.
const SCHEMA_ARRAY_KEYWORDS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
// Keywords whose value is a map name -> subschema.
const SCHEMA_MAP_KEYWORDS = new Set([
  'properties', 'patternProperties', 'dependentSchemas', '$defs', 'definitions',
]);
// Plain-value JSON Schema 2020-12 keywords kept as they are.
const VALUE_KEYWORDS = new Set([
  '$ref', '$comment', '$id', '$anchor', '$schema',
  'type', 'enum', 'const', 'format',
  'multipleOf', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum',
  'maxLength', 'minLength', 'pattern',
  'maxItems', 'minItems', 'uniqueItems', 'maxContains', 'minContains',
  'maxProperties', 'minProperties', 'required', 'dependentRequired',
  'contentEncoding', 'contentMediaType',
  'title', 'description', 'default', 'deprecated', 'readOnly', 'writeOnly',
]);
// OpenAPI-only keywords dropped silently (nullable is handled separately).
const DROPPED_KEYWORDS = new Set(['discriminator', 'example', 'examples', 'xml', 'externalDocs']);
// Annotations lifted to the wrapper when a nullable schema is wrapped in anyOf.
const ANNOTATIONS = ['title', 'description', 'default', 'deprecated', 'readOnly', 'writeOnly'];

const warnings = new Set();

function fail(message) {
  console.error(`extract-openai-schemas: ${message}`);
  process.exit(1);
}

/** Convert one OpenAPI schema object into JSON Schema 2020-12. `at` is for messages. */
function convert(schema, at, onRef) {
  if (typeof schema === 'boolean') return schema;
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    fail(`expected a schema object at ${at}, got ${JSON.stringify(schema)}`);
  }
  const out = {};
  let nullable = false;
  for (const [key, value] of Object.entries(schema)) {
    const here = `${at}/${key}`;
    if (key.startsWith('x-') || DROPPED_KEYWORDS.has(key)) continue;
    if (key === 'nullable') {
      nullable = value === true;
    } else if (key === '$ref') {
      const match = typeof value === 'string' && value.match(COMPONENT_REF);
      if (!match) fail(`unsupported $ref ${JSON.stringify(value)} at ${at}`);
      onRef(match[1]);
      out.$ref = `#/$defs/${match[1]}`;
    } else if (SCHEMA_KEYWORDS.has(key)) {
      out[key] = Array.isArray(value) // draft-04 style tuple `items`
        ? value.map((s, i) => convert(s, `${here}/${i}`, onRef))
        : convert(value, here, onRef);
    } else if (SCHEMA_ARRAY_KEYWORDS.has(key)) {
      out[key] = value.map((s, i) => convert(s, `${here}/${i}`, onRef));
    } else if (SCHEMA_MAP_KEYWORDS.has(key)) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([name, s]) => [name, convert(s, `${here}/${name}`, onRef)]),
      );
    } else if (VALUE_KEYWORDS.has(key)) {
      out[key] = value;
    } else {
      warnings.add(`dropped unknown keyword "${key}" at ${here}`);
    }
  }
  if (!nullable) return out;
  // nullable: true -> anyOf [schema, null]; annotations stay on the wrapper.
  const wrapper = {};
  for (const key of ANNOTATIONS) {
    if (key in out) {
      wrapper[key] = out[key];
      delete out[key];
    }
  }
  wrapper.anyOf = [out, { type: 'null' }];
  return wrapper;
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value).sort().map((key) => [key, sortKeys(value[key])]),
    );
  }
  return value;
}

let source;
try {
  source = readFileSync(inputPath, 'utf8');
} catch (err) {
  fail(`cannot read ${inputPath}: ${err.message}`);
}
const doc = YAML.parse(source, { maxAliasCount: -1 });
const components = doc?.components?.schemas;
if (!components || typeof components !== 'object') fail(`${inputPath} has no components.schemas`);

const missing = ROOT_SCHEMAS.filter((name) => !(name in components));
if (missing.length) fail(`schemas not found in components.schemas: ${missing.join(', ')}`);

// Breadth-first closure over $ref.
const defs = {};
const queue = [...ROOT_SCHEMAS];
const queued = new Set(queue);
while (queue.length) {
  const name = queue.shift();
  if (!(name in components)) fail(`dangling $ref to #/components/schemas/${name}`);
  defs[name] = convert(components[name], `#/components/schemas/${name}`, (ref) => {
    if (!queued.has(ref)) {
      queued.add(ref);
      queue.push(ref);
    }
  });
}

const sha256 = createHash('sha256').update(source).digest('hex');
const fixture = sortKeys({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $comment:
    `Generated by scripts/extract-openai-schemas.mjs from OpenAI's OpenAPI document ` +
    `(info.version ${doc?.info?.version ?? 'unknown'}, sha256 ${sha256}). ` +
    `Roots: ${ROOT_SCHEMAS.join(', ')}. Do not edit by hand; rerun the script.`,
  $defs: defs,
});

mkdirSync(dirname(outputPath), { recursive: true });
const json = `${JSON.stringify(fixture, null, 2)}\n`;
writeFileSync(outputPath, json);

for (const warning of [...warnings].sort()) console.error(`warning: ${warning}`);
console.log(
  `wrote ${relative(process.cwd(), outputPath) || outputPath}: ` +
    `${Object.keys(defs).length} definitions, ${Buffer.byteLength(json)} bytes ` +
    `(from ${relative(process.cwd(), inputPath) || inputPath})`,
);
