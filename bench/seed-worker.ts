import { parentPort } from 'node:worker_threads';
import type { CompletionRecord } from '../src/store/index.ts';
import { createGenerator, PROJECTS, projectOf } from './data.ts';

/**
 * Builds seed records off the main thread: turning a request and response into
 * a record (toCompletionRecord) costs about as much as writing it, so the main
 * thread writes one batch while this builds the next.
 */
const generator = createGenerator();
parentPort!.on('message', ({ from, to }: { from: number; to: number }) => {
  const byProject: Record<string, CompletionRecord[]> = Object.fromEntries(PROJECTS.map((p) => [p, []]));
  for (let n = from; n < to; n++) byProject[projectOf(n)]!.push(generator.record(n));
  parentPort!.postMessage(byProject);
});
