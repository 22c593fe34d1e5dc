// Preloaded into a process the benchmark starts (`node --import ./bench/peak-rss.mjs dist/cli.mjs ...`):
// reports the process's peak resident memory on the last line of its standard error,
// which is what `npm run bench:export` reads to show that export and import run in
// constant memory. Plain JavaScript, so that it adds nothing the measured process lacks.
process.on('exit', () => {
  process.stderr.write(`\nmaxRssBytes ${process.resourceUsage().maxRSS * 1024}\n`);
});
