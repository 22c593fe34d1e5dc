import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { createAuthenticator, loadProjectHashSecret } from '../../src/auth.ts';
import { type FakeUpstream, startFakeUpstream } from './fake-upstream.ts';
import { type Service, startService } from './service.ts';

/** What a test that moves completions between databases starts from. */
export interface SourceSetup {
  upstream: FakeUpstream;
  /** The service whose database completions are moved out of. */
  source: Service;
  /** A scratch folder for files and target databases, deleted after the test. */
  folder: string;
  /** Registers something to close after the test (before the source), last registered first. */
  later(close: () => Promise<void>): void;
}

/** Gives every test of the file a fake upstream, a source service and a scratch folder, all removed after it. */
export function useSourceEachTest(bind: (setup: SourceSetup) => void): void {
  let setup: SourceSetup | undefined;
  const closers: (() => Promise<void>)[] = [];
  beforeEach(async () => {
    const folder = mkdtempSync(join(tmpdir(), 'moves-'));
    const upstream = await startFakeUpstream();
    const source = await startService({ upstreamUrl: upstream.url });
    setup = { upstream, source, folder, later: (close) => closers.push(close) };
    bind(setup);
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await setup?.source.close();
    await setup?.upstream.close();
    if (setup) rmSync(setup.folder, { recursive: true, force: true });
  });
}

/** The project a key sees in pass-through mode, derived as the service derives it. */
export async function projectOf(service: Service, key: string): Promise<string> {
  const authenticate = createAuthenticator({ apiKeys: undefined, upstreamApiKey: undefined, projectHashSecret: await loadProjectHashSecret(service.store) });
  return authenticate(`Bearer ${key}`).project;
}
