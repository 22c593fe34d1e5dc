import { BROWSER_PATH, launchBrowser } from '../test/helpers/browser.ts';
import { startFakeUpstream } from '../test/helpers/fake-upstream.ts';
import { startService } from '../test/helpers/service.ts';

/**
 * `npm run bench:markdown`: what the conversation view's markdown reader (src/ui/markdown.js) costs in
 * Chromium on 100,000-character texts, as one "Show more" hands it: ordinary prose beside hostile texts
 * that once took seconds or minutes (reviews of 6 December 2026). Each text is parsed, appended to a
 * `.text.markdown` block under the UI's own stylesheet and laid out; parse and layout are timed apart.
 * Needs /usr/bin/chromium (BROWSER_PATH).
 */

const SIZE = 100_000;
const repeat = (unit: string) => unit.repeat(Math.floor(SIZE / unit.length));

/** Name → text. */
const TEXTS: [string, string][] = [
  ['prose (bold, code, links)', repeat('Some ordinary prose with **bold** and `code` and a [link](https://example.com).\n\n')],
  ['long list', repeat('- item with some text\n')],
  ['fenced code blocks', repeat('```\n```\n')],
  ['tiny tables', repeat('a|b\n-|-\n\n')],
  ['a row of 100,000 cells under 2 columns', `a|b\n-|-\n${'|'.repeat(SIZE)}`],
  ['header of 5,000 columns', `${'|a'.repeat(5000)}\n${'|-'.repeat(5000)}\nx|y\n`],
  ['nested list markers', repeat('- - - - - - - - - - - - - - - - x\n')],
  ['nested quotes and lists', repeat('> - > - > - > - > - x\n')],
  ['spaces after a #', `# x${' '.repeat(SIZE)}y`],
  ['spaces in a delimiter row', `a|b\n-${' '.repeat(SIZE)}x`],
  ['"[](" flood', repeat('[](')],
  ['"*_~`" flood', repeat('*_~`')],
  ['backtick runs', repeat('`` ` ')],
  ['addresses ending in ")"', repeat(`http://a${')'.repeat(4088)}\n\n`)],
  ['bare addresses, underscores', repeat('see https://example.com/_a_/b, ')],
];

const upstream = await startFakeUpstream();
const service = await startService({ upstreamUrl: upstream.url });
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  // tsx names functions with a helper the page does not have.
  await page.addInitScript('window.__name = (f) => f');
  await page.goto(`${service.origin}/`);
  const base = /(\/ui\/[^"]+\/)/.exec(await (await fetch(`${service.origin}/`)).text())![1]!;
  const rows = await page.evaluate(
    async ({ base, texts }) => {
      const md = await import(`${base}markdown.js`);
      // No DOM types in this project's TypeScript, hence the loose shapes.
      type Block = { className: string; append(...nodes: unknown[]): void; remove(): void; getBoundingClientRect(): { height: number }; getElementsByTagName(tag: string): { length: number } };
      const { document } = globalThis as unknown as { document: { createElement(tag: string): Block; body: Block } };
      const results: { name: string; chars: number; parseMs: number; layoutMs: number; elements: number }[] = [];
      for (const [name, text] of texts) {
        const holder = document.createElement('div');
        holder.className = 'text markdown';
        document.body.append(holder);
        const start = performance.now();
        const nodes = md.markdownNodes(text);
        const parsed = performance.now();
        holder.append(...nodes);
        void holder.getBoundingClientRect().height;
        const laid = performance.now();
        results.push({ name, chars: text.length, parseMs: parsed - start, layoutMs: laid - parsed, elements: holder.getElementsByTagName('*').length });
        holder.remove();
      }
      return results;
    },
    { base, texts: TEXTS },
  );
  console.log(`| text (${SIZE.toLocaleString('en')} characters) | parse | layout | elements |`);
  console.log('|---|---:|---:|---:|');
  for (const row of rows) console.log(`| ${row.name} | ${row.parseMs.toFixed(0)} ms | ${row.layoutMs.toFixed(0)} ms | ${row.elements.toLocaleString('en')} |`);
  console.log(`\nbrowser: ${BROWSER_PATH}`);
} finally {
  await browser.close();
  await service.close();
  await upstream.close();
}
