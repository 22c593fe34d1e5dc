import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type Database from 'better-sqlite3';
import { openDatabase } from '../src/db/client.ts';
import { loadConfig } from '../src/config.ts';
import { openStore } from '../src/store/open.ts';
import { createSqliteStore, type CompletionRecord, type Store } from '../src/store/index.ts';
import { toCompletionRecord } from '../src/wire.ts';
import { COMMON_WORD, createGenerator, createRandom, PROJECTS, RARE_WORD } from './data.ts';
import { measureListLatency } from './list-latency.ts';

/**
 * `npx tsx bench/cjk-search.ts [--rows N] [--database postgres://...]`: search pages over a store whose
 * completions are half the bench's English ones, half Japanese, Chinese and Korean sentences drawn from
 * 26 words (so every CJK completion holds most of a phrase's characters: a worst case for phrases),
 * first pages of each search, in-process as the bench measures them. On SQLite it then merges the
 * full-text index into one segment (FTS5 `merge` with a negative size, in steps) and measures again:
 * what the segments a store accumulates cost a search.
 */

const { values } = parseArgs({ options: { rows: { type: 'string', default: '200000' }, database: { type: 'string' } } });
const rows = Number(values.rows);
const WORDS = ['東京', '大阪', '天気', '旅行', '予約', 'ホテル', 'レストラン', '電車', '会議', '資料', '確認', '送って', 'ください', 'です', 'ます', 'の', 'に', 'を', 'は', '明日', '今日', '时间', '我们', '问题', '안녕하세요', '회의'];
const RARE_CJK = '北海道';
const random = createRandom(7);
const project = PROJECTS[0];

function sentence(words: number, rare: boolean): string {
  return `${Array.from({ length: words }, () => WORDS[Math.floor(random() * WORDS.length)]).join('')}${rare ? RARE_CJK : ''}。`;
}

function cjkRecord(n: number, created: number): CompletionRecord {
  const id = `chatcmpl-cjk${n}`;
  return toCompletionRecord({
    request: { model: 'gpt-4o', messages: [{ role: 'user', content: sentence(12, n % 10_000 === 0) }] },
    response: { id, object: 'chat.completion', created, model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content: sentence(20, false) }, finish_reason: 'stop' }] },
    id,
    requestId: `req_${n}`,
    metadata: { env: n % 4 === 0 ? 'prod' : 'staging' },
    now: created,
  });
}

let store: Store;
let sqlite: Database.Database | undefined;
const folder = mkdtempSync(join(tmpdir(), 'cjk-search-'));
if (values.database) store = await openStore(loadConfig({ DATABASE_URL: values.database }));
else {
  sqlite = openDatabase(join(folder, 'cjk.db'));
  store = createSqliteStore(sqlite);
}

const generator = createGenerator();
const seedStart = performance.now();
for (let from = 0; from < rows; from += 10_000) {
  const batch: CompletionRecord[] = [];
  for (let n = from; n < Math.min(rows, from + 10_000); n++) {
    const english = generator.record(n);
    batch.push(n % 2 === 0 ? cjkRecord(n, english.created) : english);
  }
  await store.saveCompletions(project, batch);
}
console.log(`${values.database ? 'PostgreSQL' : 'SQLite'}: ${rows} completions (half CJK) stored in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);

const search = (name: string, text: string, env = false) => ({
  name,
  params: (v: number) => ({ model: undefined, metadata: env ? [['env', v % 2 ? 'prod' : 'staging'] as [string, string]] : [], search: text }),
});
const searches = [
  search(`English common (${COMMON_WORD})`, COMMON_WORD),
  search(`English rare (${RARE_WORD})`, RARE_WORD),
  search('CJK pair 東京 (most CJK)', '東京'),
  search('CJK character の (most CJK)', 'の'),
  search('CJK phrase ホテルを予約', 'ホテルを予約'),
  search(`CJK rare ${RARE_CJK} (1 in 10,000)`, RARE_CJK),
  search('CJK phrase ホテルを予約 + env', 'ホテルを予約', true),
];

async function report(label: string): Promise<void> {
  const results = await measureListLatency(store, [], { iterations: 100, warmup: 10 }, searches);
  console.log(`\n${label}\n| search, first page | p50 ms | p99 ms |\n|---|---:|---:|`);
  for (const r of results.filter((result) => result.shape.includes('first page'))) console.log(`| ${r.shape} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} |`);
}

await report('As stored');
if (sqlite) {
  const db = sqlite;
  const totalChanges = () => (db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
  const merge = db.prepare("INSERT INTO completion_search(completion_search, rank) VALUES('merge', -500)");
  const mergeStart = performance.now();
  let steps = 0;
  let longest = 0;
  // A step that changed fewer than two rows did nothing: the index is one segment (FTS5's documentation).
  for (let before = -Infinity; totalChanges() - before >= 2; steps++) {
    before = totalChanges();
    const stepStart = performance.now();
    merge.run();
    longest = Math.max(longest, performance.now() - stepStart);
  }
  console.log(`\nFTS5 merged into one segment: ${steps} steps of 500 pages, ${((performance.now() - mergeStart) / 1000).toFixed(1)} s, longest step ${longest.toFixed(0)} ms`);
  await report('After the merge');
}
await store.close();
rmSync(folder, { recursive: true, force: true });
