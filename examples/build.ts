/**
 * Writes examples/completions.jsonl: a few dozen stored completions in the
 * `completions` export format, as this service would have stored them (through
 * the same wire module), for `stored-completions import`. The conversations
 * below are the source; run `npx tsx examples/build.ts` after editing them.
 */
import { writeFileSync } from 'node:fs';
import { completionsLine } from '../src/export/formats.ts';
import type { Json } from '../src/json.ts';
import { toCompletionRecord } from '../src/wire.ts';

interface Example {
  model: string;
  messages: Json[];
  /** The assistant's replies, one per choice (n > 1 gives several). */
  replies: (string | { tool_calls: Json[] } | { refusal: string } | { cut: string })[];
  metadata?: Record<string, string>;
  request?: Json;
}

const SNAPSHOTS: Record<string, string> = {
  'gpt-4o': 'gpt-4o-2024-08-06',
  'gpt-4o-mini': 'gpt-4o-mini-2024-07-18',
  'gpt-4.1': 'gpt-4.1-2025-04-14',
  'gpt-4.1-mini': 'gpt-4.1-mini-2025-04-14',
};

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } }, required: ['city'] },
  },
};
const orderTool = {
  type: 'function',
  function: {
    name: 'lookup_order',
    description: 'Find an order by its number',
    parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] },
  },
};
const call = (id: string, name: string, args: Json) => ({ id, type: 'function', function: { name, arguments: JSON.stringify(args) } });
const support = 'You are the support assistant of Northwind Outdoor. Be friendly and concise.';

const EXAMPLES: Example[] = [
  { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Give me three name ideas for a hiking club.' }], replies: ['1. Trail Blazers\n2. Summit Seekers\n3. The Switchbacks'], metadata: { app: 'playground', env: 'dev' } },
  { model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Translate the user text to French.' }, { role: 'user', content: 'Where is the train station?' }], replies: ['Où est la gare ?'], metadata: { app: 'translator', env: 'prod', user: 'u_1042' } },
  { model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Translate the user text to German.' }, { role: 'user', content: 'The weather is lovely today.' }], replies: ['Das Wetter ist heute herrlich.'], metadata: { app: 'translator', env: 'prod', user: 'u_2291' } },
  { model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Translate the user text to Spanish.' }, { role: 'user', content: 'I would like a table for two, please.' }], replies: ['Quisiera una mesa para dos, por favor.'], metadata: { app: 'translator', env: 'prod', user: 'u_1042' } },
  { model: 'gpt-4o', messages: [{ role: 'system', content: support }, { role: 'user', content: 'Do your tents come with a footprint?' }], replies: ['Our Ridgeline 2 and 3 tents include a footprint; the ultralight Feather 1 sells it separately for $29.'], metadata: { app: 'support-bot', env: 'prod', user: 'u_3310', channel: 'web' } },
  {
    model: 'gpt-4o',
    request: { tools: [orderTool], tool_choice: 'auto' },
    messages: [{ role: 'system', content: support }, { role: 'user', content: 'Where is my order NW-58213?' }],
    replies: [{ tool_calls: [call('call_Zq81', 'lookup_order', { order_id: 'NW-58213' })] }],
    metadata: { app: 'support-bot', env: 'prod', user: 'u_3310', channel: 'web' },
  },
  {
    model: 'gpt-4o',
    request: { tools: [orderTool], tool_choice: 'auto' },
    messages: [
      { role: 'system', content: support },
      { role: 'user', content: 'Where is my order NW-58213?' },
      { role: 'assistant', content: null, tool_calls: [call('call_Zq81', 'lookup_order', { order_id: 'NW-58213' })] },
      { role: 'tool', tool_call_id: 'call_Zq81', content: '{"status":"shipped","carrier":"UPS","eta":"2025-03-14"}' },
    ],
    replies: ['Good news: order NW-58213 has shipped with UPS and should arrive on March 14.'],
    metadata: { app: 'support-bot', env: 'prod', user: 'u_3310', channel: 'web' },
  },
  {
    model: 'gpt-4.1',
    request: { tools: [weatherTool], tool_choice: 'auto', parallel_tool_calls: true },
    messages: [{ role: 'user', content: 'Should I pack a rain jacket for Bergen and Oslo this weekend?' }],
    replies: [{ tool_calls: [call('call_Bg1', 'get_weather', { city: 'Bergen', unit: 'celsius' }), call('call_Os2', 'get_weather', { city: 'Oslo', unit: 'celsius' })] }],
    metadata: { app: 'trip-planner', env: 'prod', user: 'u_0077' },
  },
  {
    model: 'gpt-4.1',
    request: { tools: [weatherTool], tool_choice: 'auto' },
    messages: [
      { role: 'user', content: 'Should I pack a rain jacket for Bergen and Oslo this weekend?' },
      { role: 'assistant', content: null, tool_calls: [call('call_Bg1', 'get_weather', { city: 'Bergen', unit: 'celsius' }), call('call_Os2', 'get_weather', { city: 'Oslo', unit: 'celsius' })] },
      { role: 'tool', tool_call_id: 'call_Bg1', content: '{"temp":9,"conditions":"heavy rain"}' },
      { role: 'tool', tool_call_id: 'call_Os2', content: '{"temp":12,"conditions":"partly cloudy"}' },
    ],
    replies: ['Yes. Bergen expects heavy rain at 9 °C; Oslo looks drier at 12 °C, but a light jacket covers both.'],
    metadata: { app: 'trip-planner', env: 'prod', user: 'u_0077' },
  },
  {
    model: 'gpt-4o',
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What kind of bird is this?' },
          { type: 'image_url', image_url: { url: 'https://upload.wikimedia.org/wikipedia/commons/4/45/Eopsaltria_australis_-_Mogo_Campground.jpg', detail: 'low' } },
        ],
      },
    ],
    replies: ['That is an Eastern Yellow Robin (Eopsaltria australis), a small songbird of eastern Australia.'],
    metadata: { app: 'field-guide', env: 'prod', user: 'u_5120' },
  },
  {
    model: 'gpt-4o',
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Compare these two trail maps. Which route is shorter?' },
          { type: 'image_url', image_url: { url: 'https://example.com/maps/ridge-loop.png' } },
          { type: 'image_url', image_url: { url: 'https://example.com/maps/lake-trail.png' } },
        ],
      },
    ],
    replies: ['The Lake Trail is shorter: about 7.2 km against 9.8 km for the Ridge Loop, with 300 m less climbing.'],
    metadata: { app: 'field-guide', env: 'staging', user: 'u_5120' },
  },
  {
    model: 'gpt-4o-mini',
    request: { n: 2, temperature: 1.1 },
    messages: [{ role: 'user', content: 'Write a one-line slogan for a reusable water bottle.' }],
    replies: ['Refill the bottle, not the landfill.', 'Every sip, a little less plastic.'],
    metadata: { app: 'copywriter', env: 'prod', user: 'u_0808', experiment: 'slogans-v2' },
  },
  {
    model: 'gpt-4o-mini',
    request: { n: 2, temperature: 1.1 },
    messages: [{ role: 'user', content: 'Write a one-line slogan for trail running shoes.' }],
    replies: ['Grip the mountain, leave the road behind.', 'Built for mud, made for miles.'],
    metadata: { app: 'copywriter', env: 'prod', user: 'u_0808', experiment: 'slogans-v2' },
  },
  { model: 'gpt-4.1-mini', request: { seed: 42, temperature: 0 }, messages: [{ role: 'system', content: 'Classify the sentiment as positive, negative or neutral. Answer with one word.' }, { role: 'user', content: 'The zipper broke on the second day.' }], replies: ['negative'], metadata: { app: 'review-triage', env: 'prod', batch: '2025-03-01' } },
  { model: 'gpt-4.1-mini', request: { seed: 42, temperature: 0 }, messages: [{ role: 'system', content: 'Classify the sentiment as positive, negative or neutral. Answer with one word.' }, { role: 'user', content: 'Warm, light, and it packs down small. Love it.' }], replies: ['positive'], metadata: { app: 'review-triage', env: 'prod', batch: '2025-03-01' } },
  { model: 'gpt-4.1-mini', request: { seed: 42, temperature: 0 }, messages: [{ role: 'system', content: 'Classify the sentiment as positive, negative or neutral. Answer with one word.' }, { role: 'user', content: 'Arrived on Tuesday.' }], replies: ['neutral'], metadata: { app: 'review-triage', env: 'prod', batch: '2025-03-01' } },
  {
    model: 'gpt-4.1-mini',
    request: { response_format: { type: 'json_schema', json_schema: { name: 'product', schema: { type: 'object', properties: { name: { type: 'string' }, price: { type: 'number' } }, required: ['name', 'price'] } } } },
    messages: [{ role: 'user', content: 'Extract the product: "The Feather 1 tent is on sale for $249 this week."' }],
    replies: ['{"name":"Feather 1 tent","price":249}'],
    metadata: { app: 'catalog-extractor', env: 'prod' },
  },
  {
    model: 'gpt-4.1-mini',
    request: { response_format: { type: 'json_object' } },
    messages: [{ role: 'system', content: 'Reply with JSON: {"language": ISO 639-1 code}.' }, { role: 'user', content: 'Hvor ligger nærmeste hytte?' }],
    replies: ['{"language":"no"}'],
    metadata: { app: 'catalog-extractor', env: 'staging' },
  },
  { model: 'gpt-4o', messages: [{ role: 'system', content: support }, { role: 'user', content: 'How do I reproof a rain jacket?' }], replies: ['Wash it with a technical cleaner, then apply a wash-in or spray-on DWR treatment and tumble dry on low to reactivate it.'], metadata: { app: 'support-bot', env: 'prod', user: 'u_4471', channel: 'email' } },
  { model: 'gpt-4o', messages: [{ role: 'system', content: support }, { role: 'user', content: 'Can you write my college essay about camping?' }], replies: [{ refusal: "I'm sorry, I can only help with questions about Northwind Outdoor products and orders." }], metadata: { app: 'support-bot', env: 'prod', user: 'u_9001', channel: 'web' } },
  { model: 'gpt-4o-mini', request: { max_completion_tokens: 40 }, messages: [{ role: 'user', content: 'Tell me the full history of the Appalachian Trail.' }], replies: [{ cut: 'The Appalachian Trail was conceived in 1921 by Benton MacKaye, a forester who imagined a chain of work camps and farms along the ridges of the eastern United States. The first' }], metadata: { app: 'playground', env: 'dev' } },
  {
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'You are a patient maths tutor. Guide, do not just answer.' },
      { role: 'user', content: 'How do I solve 3x + 5 = 20?' },
      { role: 'assistant', content: 'What could you do to both sides to get the 3x term on its own?' },
      { role: 'user', content: 'Subtract 5? So 3x = 15.' },
    ],
    replies: ['Exactly. Now what would you do to find x from 3x = 15?'],
    metadata: { app: 'tutor', env: 'prod', user: 'u_1200', grade: '8' },
  },
  {
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'You are a patient maths tutor. Guide, do not just answer.' },
      { role: 'user', content: 'What is the area of a circle with radius 3?' },
    ],
    replies: ['Start from the formula A = πr². What do you get when you put r = 3 into it?'],
    metadata: { app: 'tutor', env: 'prod', user: 'u_1201', grade: '7' },
  },
  { model: 'gpt-4.1', messages: [{ role: 'developer', content: 'Answer as a senior TypeScript reviewer. Be specific.' }, { role: 'user', content: 'Is `JSON.parse(x) as User` safe?' }], replies: ['No: the cast only silences the compiler. Validate the parsed value at runtime (for example with zod) before treating it as a User.'], metadata: { app: 'code-review', env: 'prod', repo: 'web-shop' } },
  { model: 'gpt-4.1', messages: [{ role: 'developer', content: 'Answer as a senior TypeScript reviewer. Be specific.' }, { role: 'user', content: 'Why does my `for await` over a stream never end?' }], replies: ['The stream is never ended: call `end()` on the writer (or close the underlying source), otherwise the async iterator waits for more data forever.'], metadata: { app: 'code-review', env: 'prod', repo: 'ingest-worker' } },
  { model: 'gpt-4.1', messages: [{ role: 'user', content: 'Summarise in one sentence: "Ticket 4411: checkout fails for carts over 50 items because the tax service times out after 2 s."' }], replies: ['Checkout fails for carts with more than 50 items because the tax service times out after 2 seconds.'], metadata: { app: 'ticket-summary', env: 'prod', team: 'payments' } },
  { model: 'gpt-4.1', messages: [{ role: 'user', content: 'Summarise in one sentence: "Ticket 4420: the size chart link on product pages returns 404 since the CMS migration."' }], replies: ['Since the CMS migration, the size chart link on product pages returns a 404.'], metadata: { app: 'ticket-summary', env: 'prod', team: 'web' } },
  { model: 'gpt-4o', request: { user: 'user-7781' }, messages: [{ role: 'user', content: 'Plan a 3-day hut-to-hut hike in the Dolomites for beginners.' }], replies: ['Day 1: Rifugio Auronzo to Rifugio Locatelli (3 h). Day 2: Locatelli to Rifugio Pian di Cengia via the Alpe dei Piani (3.5 h). Day 3: back to Auronzo along the Tre Cime balcony path (3 h).'], metadata: { app: 'trip-planner', env: 'prod', user: 'u_7781' } },
  { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Is it safe to drink from mountain streams?' }], replies: ['Not without treatment: even clear streams can carry Giardia or bacteria. Filter, boil, or use purification tablets.'], metadata: { app: 'field-guide', env: 'prod', user: 'u_6060' } },
  { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], replies: ['Hi! How can I help you today?'], metadata: { app: 'playground', env: 'dev' } },
];

const FIRST_CREATED = 1_741_000_000;
const lines = EXAMPLES.map((example, n) => {
  const id = `chatcmpl-example${String(n + 1).padStart(2, '0')}${'AbCdEfGhIjKlMnOpQrSt'}`;
  const created = FIRST_CREATED + n * 3617;
  const response = {
    id,
    object: 'chat.completion',
    created,
    model: SNAPSHOTS[example.model]!,
    choices: example.replies.map((reply, index) => {
      const base = { role: 'assistant', content: null as string | null, refusal: null as string | null, annotations: [] };
      if (typeof reply === 'string') return { index, message: { ...base, content: reply }, logprobs: null, finish_reason: 'stop' };
      if ('tool_calls' in reply) return { index, message: { ...base, tool_calls: reply.tool_calls }, logprobs: null, finish_reason: 'tool_calls' };
      if ('refusal' in reply) return { index, message: { ...base, refusal: reply.refusal }, logprobs: null, finish_reason: 'stop' };
      return { index, message: { ...base, content: reply.cut }, logprobs: null, finish_reason: 'length' };
    }),
    usage: {
      prompt_tokens: 12 + JSON.stringify(example.messages).length / 4 | 0,
      completion_tokens: 8 + JSON.stringify(example.replies).length / 4 | 0,
      total_tokens: 0,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_7f5e1a9c3d',
  };
  response.usage.total_tokens = response.usage.prompt_tokens + response.usage.completion_tokens;
  const record = toCompletionRecord({
    request: { model: example.model, messages: example.messages, ...example.request },
    response,
    id,
    requestId: `req_${(0x5eed0000 + n).toString(16).padStart(32, '0')}`,
    metadata: example.metadata ?? {},
    now: created,
  });
  return completionsLine({
    completion: { id, body: record.body, metadata: JSON.stringify(record.metadata), choices: record.choices.join(',') },
    messages: record.messages.map((body, idx) => ({ idx, body })),
  });
});
writeFileSync(new URL('./completions.jsonl', import.meta.url), `${lines.join('\n')}\n`);
process.stdout.write(`examples/completions.jsonl: ${lines.length} completions\n`);
