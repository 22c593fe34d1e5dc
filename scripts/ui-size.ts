/** Prints the web UI's size as served: raw, gzip and brotli bytes of its scripts, its CSS and the page. */
import { loadUiBundle } from '../src/routes/ui.ts';

const bundle = loadUiBundle();
const rows: [string, number, number, number][] = [];
const sum = (filter: (name: string) => boolean, label: string) => {
  const assets = [...bundle.assets].filter(([name]) => filter(name)).map(([, asset]) => asset);
  rows.push([label, ...(['identity', 'gzip', 'brotli'] as const).map((k) => assets.reduce((total, a) => total + a[k].length, 0))] as [string, number, number, number]);
};
sum((name) => name.endsWith('.js'), 'scripts (all modules)');
sum((name) => name.endsWith('.css'), 'styles');
rows.push(['page (index.html)', bundle.page.identity.length, bundle.page.gzip.length, bundle.page.brotli.length]);
console.log('what                     raw      gzip    brotli');
for (const [label, raw, gzip, brotli] of rows) {
  console.log(`${label.padEnd(22)} ${String(raw).padStart(7)} ${String(gzip).padStart(8)} ${String(brotli).padStart(8)}`);
}
