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
