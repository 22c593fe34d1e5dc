/**
 * SIGHUP, listened for before any of the service's own code runs: server.ts imports this module first, so
 * its listener is in place before the config is read and the database reached (up to
 * DATABASE_STARTUP_TIMEOUT_MS). Node's default for SIGHUP ends the process; a `systemctl reload` sent while
 * the service starts is kept and done once a reload is wired. (The packages the bundle imports load before
 * any module body runs, a few hundred milliseconds in which SIGHUP still ends the process: only an entry
 * that imported the service dynamically would close that.)
 */
let reload: (() => void) | undefined;
let asked = false;

process.on('SIGHUP', () => {
  if (reload) reload();
  else asked = true;
});

/** What SIGHUP does from now on; a signal that came before runs it at once. */
export function onReloadSignal(run: () => void): void {
  reload = run;
  if (asked) {
    asked = false;
    run();
  }
}
