import type { Locator } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { signIn, useUiSuite } from './helpers/ui-page.ts';

const BASE = 1_760_000_000;

/** A reply as models write them: every kind of block and span the UI draws, and what it must not. */
const REPLY = [
  '# Plan for *today*',
  '',
  'Some **bold**, _italic_, `a <b> code`, ~~old~~ and snake_case_name, 5 * 3 = 15.',
  'A second line, [the docs](https://example.com/a_(b) "Docs") and [bad](javascript:window.__pwned=1).',
  'An image: ![pixel](https://tracker.example/p.png?q=secret) <https://example.org/x>',
  '',
  '- one',
  '- two',
  '  - nested `x`',
  '',
  '3. third',
  '4. fourth',
  '',
  '> quoted <script>window.__pwned=1</script>',
  '',
  '| Name | Qty |',
  '|:-----|----:|',
  '| a \\| b | **1** |',
  '',
  '```js',
  'const x = "*not emphasis*";',
  '```',
  '',
  'Heading two',
  '-----------',
  '',
  '***',
  '',
  '    indented code',
  '',
  'Unclosed *star and [bracket and `tick',
].join('\n');

/** The drawn reply as tags and text, attributes that matter kept: the whole structure in one string. */
function outline(block: Locator): Promise<string> {
  return block.evaluate((root) => {
    const keep = ['href', 'start', 'class', 'role', 'aria-level', 'rel', 'target'];
    // No DOM types in this project's TypeScript, hence the loose shapes.
    type Node = { nodeType: number; data: string; tagName: string; childNodes: Node[]; hasAttribute(a: string): boolean; getAttribute(a: string): string };
    const walk = (node: Node): string => {
      if (node.nodeType === 3) return node.data;
      const tag = node.tagName.toLowerCase();
      const attrs = keep.filter((a) => node.hasAttribute(a)).map((a) => ` ${a}="${node.getAttribute(a)}"`).join('');
      return `<${tag}${attrs}>${[...node.childNodes].map(walk).join('')}</${tag}>`;
    };
    return [...(root as unknown as Node).childNodes].map(walk).join('\n');
  });
}

const LINK = 'rel="noopener noreferrer nofollow" target="_blank"';
const EXPECTED = [
  '<p class="md-heading md-h1" role="heading" aria-level="4">Plan for <em>today</em></p>',
  '<p>Some <strong>bold</strong>, <em>italic</em>, <code>a &lt;b&gt; code</code>, <del>old</del> and snake_case_name, 5 * 3 = 15.\n'
    + `A second line, <a href="https://example.com/a_(b)" ${LINK}>the docs</a> and [bad](javascript:window.__pwned=1).\n`
    + `An image: <a href="https://tracker.example/p.png?q=secret" ${LINK}>Image: pixel</a> <a href="https://example.org/x" ${LINK}>https://example.org/x</a></p>`,
  '<ul><li><p>one</p></li><li><p>two</p><ul><li><p>nested <code>x</code></p></li></ul></li></ul>',
  '<ol start="3"><li><p>third</p></li><li><p>fourth</p></li></ol>',
  '<blockquote><p>quoted &lt;script&gt;window.__pwned=1&lt;/script&gt;</p></blockquote>',
  '<div class="md-table"><table><thead><tr><th class="align-left">Name</th><th class="align-right">Qty</th></tr></thead>'
    + '<tbody><tr><td class="align-left">a | b</td><td class="align-right"><strong>1</strong></td></tr></tbody></table></div>',
  '<div class="fenced"><span class="part-label">js</span><pre class="fenced-code"><code>const x = "*not emphasis*";</code></pre><button class="secondary small copy-code">Copy</button></div>',
  '<p class="md-heading md-h2" role="heading" aria-level="5">Heading two</p>',
  '<hr></hr>',
  '<div class="fenced"><pre class="fenced-code"><code>indented code</code></pre><button class="secondary small copy-code">Copy</button></div>',
  '<p>Unclosed *star and [bracket and `tick</p>',
].join('\n');

/** What models write that a plain reading of markdown loses or garbles. */
const TRICKY = [
  '| Op | Meaning |',
  '|---|---:|',
  '| `a || b` | logical or |',
  '| `x \\| y` | pipe | extra |',
  '| short |',
  '',
  'See https://example.com/_foo_/bar, and *glob `src/*.js` here*.',
  '[![CI](https://ci.example/badge.svg)](https://ci.example/run) [docs](https://a.example/a\\_b)',
  'last line\\',
  'next',
  '',
  '- first\u2028second line',
  '',
  '*Tip: pass \\*args* to f, [x](http://a\\)b) and \\\\`code`',
].join('\n');

const TRICKY_EXPECTED = [
  '<div class="md-table"><table><thead><tr><th>Op</th><th class="align-right">Meaning</th></tr></thead><tbody>'
    + '<tr><td><code>a || b</code></td><td class="align-right">logical or</td></tr>'
    + '<tr><td><code>x | y</code></td><td class="align-right">pipe | extra</td></tr>'
    + '<tr><td>short</td></tr></tbody></table></div>',
  `<p>See <a href="https://example.com/_foo_/bar" ${LINK}>https://example.com/_foo_/bar</a>, and <em>glob <code>src/*.js</code> here</em>.\n`
    + `<a href="https://ci.example/run" ${LINK}>Image: CI</a> <a href="https://a.example/a_b" ${LINK}>docs</a>\nlast line\nnext</p>`,
  // A line separator is text of the item's line (the rest of the line was lost).
  '<ul><li><p>first\u2028second line</p></li></ul>',
  // An escaped star does not close emphasis, an escaped parenthesis does not end an address, an escaped backslash
  // leaves the code span after it one.
  `<p><em>Tip: pass *args</em> to f, <a href="http://a)b" ${LINK}>x</a> and \\<code>code</code></p>`,
].join('\n');

const HEBREW = ['שלום! הנה רשימה עם `f()` בתוכה:', '', '- פריט ראשון', '- פריט שני', '', '> ציטוט בעברית', '', '| שם | כמות |', '|---|---:|', '| תפוח | 3 |'].join('\n');

describe.skipIf(!browserAvailable)('web UI: messages drawn as markdown', () => {
  let id = '';
  let trickyId = '';
  let hebrewId = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    id = await seedCompletion(service.client(), upstream, {
      created: BASE,
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Plan my day in **markdown**.' }],
      replies: [{ content: REPLY }],
    });
    trickyId = await seedCompletion(service.client(), upstream, {
      created: BASE + 1,
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Tricky markdown' }],
      replies: [{ content: TRICKY }],
    });
    hebrewId = await seedCompletion(service.client(), upstream, {
      created: BASE + 2,
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'רשימה בעברית' }],
      replies: [{ content: HEBREW }],
    });
  });

  it('draws headings, emphasis, code, lists, quotes, tables and links as elements; markup and unsafe links stay text', async () => {
    const page = await suite.open(`#/completions/${id}`);
    await signIn(page);
    const reply = page.locator('article.message', { hasText: 'Plan for' }).locator('.markdown');
    await reply.waitFor();
    // Text nodes serialize unescaped: "<b>" in the outline is the text "&lt;b&gt;" only where a tag would be.
    const drawn = (await outline(reply)).replace(/<(\/?)(b|script)>/g, '&lt;$1$2&gt;');
    expect(drawn).toBe(EXPECTED);
    expect(await page.locator('article.message', { hasText: 'Plan my day' }).locator('strong').textContent()).toBe('markdown');
    // Nothing is fetched for the image, nothing runs, no javascript: link exists.
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.locator('main a[href^="javascript:"], main script').count()).toBe(0);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
  });

  it('shows the characters as stored when "Markdown" is unticked, and keeps that choice across a reload', async () => {
    const page = await suite.open(`#/completions/${id}`);
    await signIn(page);
    const toggle = page.getByRole('checkbox', { name: 'Markdown' });
    await toggle.waitFor();
    expect(await toggle.isChecked()).toBe(true);
    await toggle.uncheck();
    const reply = page.locator('article.message', { hasText: 'Plan for' });
    await expect.poll(() => reply.locator('.text').textContent()).toBe(REPLY);
    expect(await reply.locator('.text').evaluate((el) => el.children.length)).toBe(0);
    expect(await page.locator('article.message', { hasText: 'Plan my day' }).locator('.text').textContent()).toBe('Plan my day in **markdown**.');
    await page.reload();
    await page.getByRole('heading', { name: 'Reply' }).waitFor();
    expect(await page.getByRole('checkbox', { name: 'Markdown' }).isChecked()).toBe(false);
    expect(await reply.locator('.text').textContent()).toBe(REPLY);
    await page.getByRole('checkbox', { name: 'Markdown' }).check();
    await expect.poll(() => reply.locator('.markdown table').count()).toBe(1);
  });

  it('keeps every character of tables with code, bare addresses, code inside emphasis, badges and escaped addresses', async () => {
    const page = await suite.open(`#/completions/${trickyId}`);
    await signIn(page);
    const reply = page.locator('article.message', { hasText: 'logical or' }).locator('.markdown');
    await reply.waitFor();
    expect(await outline(reply)).toBe(TRICKY_EXPECTED);
  });

  it('lays a right-to-left message out right to left: its lists, quote and table too, the colons still saying left and right', async () => {
    const page = await suite.open(`#/completions/${hebrewId}`);
    await signIn(page);
    const reply = page.locator('article.message', { hasText: 'פריט ראשון' }).locator('.markdown');
    await reply.waitFor();
    const directions = await reply.evaluate((root) => {
      // No DOM types in this project's TypeScript, hence the loose shapes.
      type El = { querySelector(s: string): El; getBoundingClientRect(): { left: number; right: number } };
      const css = (el: El) => (globalThis as unknown as { getComputedStyle(e: El): Record<string, string> }).getComputedStyle(el);
      const box = root as unknown as El;
      const pick = (selector: string) => css(box.querySelector(selector)).direction;
      const item = box.querySelector('li').getBoundingClientRect();
      const list = box.querySelector('ul').getBoundingClientRect();
      return {
        message: css(box).direction,
        list: pick('ul'),
        item: pick('li'),
        quote: pick('blockquote'),
        table: pick('table'),
        // The list's indent (where the markers go) is on its right.
        indentOnTheRight: list.right - item.right > 15 && Math.abs(item.left - list.left) < 2,
        alignRight: css(box.querySelector('th.align-right')).textAlign,
        // Code inside Hebrew prose stays code: left to right, isolated.
        code: `${css(box.querySelector('p code')).direction} ${css(box.querySelector('p code')).unicodeBidi}`,
      };
    });
    expect(directions).toEqual({ message: 'rtl', list: 'rtl', item: 'rtl', quote: 'rtl', table: 'rtl', indentOnTheRight: true, alignRight: 'right', code: 'ltr isolate' });
  });

  it('draws at most its budget of blocks, lists and tables included, and shows the rest once, in order, as its characters', async () => {
    const page = await suite.open(`#/completions/${id}`);
    await signIn(page);
    await page.locator('.markdown').first().waitFor();
    type Drawn = { items: number; elements: number; rest: string };
    // A string, not a function: the test runner would rewrite a function's import().
    const drawn = (await page.evaluate(`(async () => {
      const base = new URL('.', document.querySelector('script[type=module]').src).href;
      const md = await import(base + 'markdown.js');
      const drawOf = (text) => {
        const holder = document.createElement('div');
        holder.append(...md.markdownNodes(text));
        const items = holder.getElementsByTagName('li').length + holder.getElementsByTagName('tr').length;
        return { items, elements: holder.getElementsByTagName('*').length, rest: holder.lastElementChild.textContent };
      };
      const list = Array.from({ length: 6000 }, (_, i) => '- item ' + i).join('\\n');
      const table = '|h|\\n|-|\\n' + Array.from({ length: 6000 }, (_, i) => 'row ' + i).join('\\n');
      return { list: drawOf(list), table: drawOf(table) };
    })()`)) as { list: Drawn; table: Drawn };
    for (const [name, last] of [['list', '- item 5999'], ['table', 'row 5999']] as const) {
      const { items, elements, rest } = drawn[name];
      expect(elements, name).toBeLessThan(5100);
      // The rest starts right after the last drawn item and runs to the end.
      const next = name === 'list' ? `- item ${items}` : `row ${items - 1}`;
      expect(rest.startsWith(next), `${name}: ${rest.slice(0, 30)}`).toBe(true);
      expect(rest.endsWith(last), name).toBe(true);
    }
  });
});

