// Snippets that send a stored completion's request again, through this service, as curl and as the
// official Node client: the input messages as sent, plus the request fields the completion echoes.

const ECHOED_FIELDS = ['temperature', 'top_p', 'seed', 'presence_penalty', 'frequency_penalty', 'tool_choice', 'tools', 'response_format'];

/** A stored input message back into the shape it was sent in (content parts when it had them). */
function requestMessage(stored) {
  const message = { role: stored.role, content: stored.content_parts ?? stored.content };
  for (const field of ['name', 'tool_calls', 'tool_call_id', 'refusal', 'audio', 'function_call']) {
    if (stored[field] !== null && stored[field] !== undefined) message[field] = stored[field];
  }
  return message;
}

export function replayRequest(completion, messages) {
  const body = { model: completion.model, messages: messages.map(requestMessage) };
  for (const field of ECHOED_FIELDS) {
    if (completion[field] !== null && completion[field] !== undefined) body[field] = completion[field];
  }
  if (completion.input_user) body.user = completion.input_user;
  if ((completion.choices?.length ?? 1) > 1) body.n = completion.choices.length;
  body.store = true;
  if (completion.metadata && Object.keys(completion.metadata).length) body.metadata = completion.metadata;
  return body;
}

export function curlSnippet(body, origin = location.origin) {
  // A quoted heredoc: the JSON reaches curl byte for byte, whatever quotes or $ it holds.
  return [
    `curl ${origin}/v1/chat/completions \\`,
    '  -H "Authorization: Bearer $OPENAI_API_KEY" \\',
    "  -H 'Content-Type: application/json' \\",
    "  -d @- <<'JSON'",
    JSON.stringify(body, null, 2),
    'JSON',
  ].join('\n');
}

/** The integers past 2^53 in `value`, as written: parseJson (api.js) keeps each as a JSON.rawJSON. */
function unsafeIntegers(value, found = []) {
  if (JSON.isRawJSON?.(value)) found.push(value.rawJSON);
  else if (value && typeof value === 'object') for (const item of Object.values(value)) unsafeIntegers(item, found);
  return found;
}

/**
 * The snippet writes such an integer as stored, but Node reads the literal as a double: the client
 * would send 9223372036854776000 for an int64 seed, past int64, which OpenAI refuses. Each one is named
 * in a comment with what it becomes, and the curl command, which sends it as stored, is the way out.
 */
function roundingNotes(body) {
  return [...new Set(unsafeIntegers(body))].map((raw) =>
    `// JavaScript rounds ${raw} to ${String(Number(raw))} (a number holds no more digits): this client sends the rounded value; the curl command sends it as stored.`);
}

export function openaiSnippet(body, origin = location.origin) {
  return [
    "import OpenAI from 'openai';",
    '',
    `const client = new OpenAI({ baseURL: '${origin}/v1' }); // OPENAI_API_KEY from the environment`,
    ...roundingNotes(body),
    `const completion = await client.chat.completions.create(${JSON.stringify(body, null, 2)});`,
    'console.log(completion.choices[0].message);',
  ].join('\n');
}
