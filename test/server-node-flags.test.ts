import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SERVER_NODE_FLAGS } from '../scripts/build.mjs';

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');

/** The service runs with the same node options however it is started (see SERVER_NODE_FLAGS in scripts/build.mjs). */
describe("the service's node options", () => {
  const command = ['node', ...SERVER_NODE_FLAGS, 'dist/server.mjs'];

  it('are those of npm start', () => {
    const { scripts } = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    // exec: the shell npm runs the script in becomes node, so a signal sent to npm reaches the service.
    expect(scripts.start).toBe(`exec ${command.join(' ')}`);
  });

  it("are those of npm run bench, whose in-process figures stand for the service's process", () => {
    const { scripts } = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    const bench = ['node', ...SERVER_NODE_FLAGS, '--import tsx bench/run.ts'].join(' ');
    expect(scripts.bench).toBe(bench);
    expect(scripts['bench:smoke']).toBe(`${bench} --rows 5000 --quick`);
  });

  it("are those of the image's command", () => {
    expect(read('Dockerfile')).toContain(`CMD ${JSON.stringify(command).replaceAll(',', ', ')}`);
  });

  it('are those of the systemd example in docs/operations.md', () => {
    expect(read('docs/operations.md')).toContain(`ExecStart=/usr/bin/${command.join(' ')}`);
  });

  it('turn pretenuring off in the command-line tool too, before it imports anything else (it starts on bare node)', () => {
    expect(SERVER_NODE_FLAGS).toContain('--no-allocation-site-pretenuring');
    expect(read('src/cli/main.ts').split('\n')[0]).toBe("import '../v8-settings.ts';");
    expect(read('src/v8-settings.ts')).toContain("setFlagsFromString('--no-allocation-site-pretenuring');");
  });
});
