import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createDatabaseWarnings } from '../src/database-warnings.ts';

/** A real pino logger writing JSON lines into an array. */
function collectingLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ base: null, timestamp: false }, sink), lines };
}

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
const readOnly = () => Object.assign(new Error('cannot execute INSERT in a read-only transaction'), { code: '25006' });

describe('the database unavailable warning', () => {
  it('takes a PostgreSQL error by its code and other causes without their numbers, and carries no count past a minute', async () => {
    const { logger, lines } = collectingLogger();
    let clock = 0;
    const warn = createDatabaseWarnings(logger, () => clock);
    const segment = (n: number) => Object.assign(new Error(`could not resize shared memory segment "/PostgreSQL.${n}": No space left on device`), { code: '53100' });
    const refusedAt = (port: number) => Object.assign(new Error(`connect ECONNREFUSED 10.0.0.${port % 7}:${port}`), { code: 'ECONNREFUSED' });
    for (let i = 0; i < 3; i++, clock += 100) {
      warn(segment(1804289383 + i), { path: '/a' });
      warn(refusedAt(5432 + i), { path: '/b' });
    }
    // The outage ends; the next, two minutes on, starts its own count.
    clock = 120_000;
    warn(segment(42), { path: '/c' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.map((line) => [(line.cause as { code: string }).code, line.path, line.alsoFailedSinceLastLine])).toEqual([
      ['53100', '/a', undefined],
      ['ECONNREFUSED', '/b', undefined],
      ['53100', '/c', undefined],
    ]);
  });

  it('says each cause once per 10 s, with how many requests failed the same way since its last line, and no stack', async () => {
    const { logger, lines } = collectingLogger();
    let clock = 1_000_000;
    const warn = createDatabaseWarnings(logger, () => clock);
    for (let i = 0; i < 5; i++, clock += 1_000) warn(refused(), { requestId: `req_${i}`, path: '/v1/chat/completions' });
    warn(readOnly(), { requestId: 'req_ro', path: '/v1/chat/completions/x' });
    clock = 1_000_000 + 10_000;
    warn(refused(), { requestId: 'req_later', path: '/v1/chat/completions' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toEqual([
      { level: 40, cause: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:5432' }, requestId: 'req_0', path: '/v1/chat/completions', msg: 'database unavailable' },
      { level: 40, cause: { code: '25006', message: 'cannot execute INSERT in a read-only transaction' }, requestId: 'req_ro', path: '/v1/chat/completions/x', msg: 'database unavailable' },
      {
        level: 40,
        cause: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:5432' },
        requestId: 'req_later',
        path: '/v1/chat/completions',
        alsoFailedSinceLastLine: 4,
        msg: 'database unavailable',
      },
    ]);
  });
});
