import { request as httpRequest } from 'node:http';
import { DEFAULT_KEY, type Service } from './service.ts';

/**
 * Watches this process's event loop: `stop()` answers the longest it went without a turn since the watch began.
 * A service under test runs in this process, so that is the longest any other request (a create, /livez) waited.
 */
export function watchEventLoop(): { stop(): number } {
  let longestMs = 0;
  let ticking = true;
  let last = performance.now();
  const tick = () => {
    const now = performance.now();
    longestMs = Math.max(longestMs, now - last);
    last = now;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop() {
      ticking = false;
      return longestMs;
    },
  };
}

/**
 * Sends `body` to `service` with the default key and answers its status and body, with the longest the event loop went
 * without a turn meanwhile (the service runs in this process: the longest any other request waited).
 */
export async function sendWatchingTheLoop(
  service: Pick<Service, 'origin'>,
  method: string,
  path: string,
  body: Buffer,
): Promise<{ status: number; text: string; longestMs: number }> {
  const loop = watchEventLoop();
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpRequest(new URL(service.origin + path), {
      method,
      headers: { authorization: `Bearer ${DEFAULT_KEY}`, 'content-type': 'application/json' },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
  return { status, text, longestMs: loop.stop() };
}
