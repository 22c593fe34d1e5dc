import { ConfigError, loadConfig, type Config } from '../config.ts';
import { DatabaseOpenError } from '../db/open-errors.ts';
import { ApiError } from '../errors.ts';
import type { Command, CommandContext } from './command.ts';
import { CliError } from './errors.ts';
import { copyCommand } from './copy.ts';
import { exportCommand } from './export.ts';
import { importCommand } from './import.ts';
import { mirrorCommand } from './mirror.ts';

/**
 * `stored-completions <command> [options]`: the operator's tool. It reads the
 * service's own configuration (DATABASE_URL, API_KEYS, ...) and works on the
 * same database while the service runs.
 */

const COMMANDS: Command[] = [exportCommand, importCommand, mirrorCommand, copyCommand];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: stored-completions <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

It reads the service's configuration from the environment (DATABASE_URL, API_KEYS, ...).
\`stored-completions <command> --help\` shows a command's options and an example.`;
}

/** Runs one command line; `env` replaces the process environment as the configuration's source (tests). Returns the exit code. */
export async function runCli(argv: string[], env: Record<string, string | undefined> | undefined, streams: Omit<CommandContext, 'config'>): Promise<number> {
  const [name, ...rest] = argv;
  // Asked for, the overview is the output (stdout, 0); with no command at all it is a usage error's message, and goes
  // where errors go (stderr, 2), as an unknown command's does: `stored-completions > out` must not fill `out` with it.
  if (name === '--help' || name === '-h' || name === 'help') {
    streams.stdout.write(`${overview()}\n`);
    return 0;
  }
  if (name === undefined) {
    streams.stderr.write(`stored-completions: expected a command\n\n${overview()}\n`);
    return 2;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    streams.stderr.write(`stored-completions: unknown command '${name}'\n\n${overview()}\n`);
    return 2;
  }
  let config: Config | undefined;
  const context: CommandContext = { ...streams, config: () => (config ??= loadConfig(env)) };
  try {
    await command.run(rest, context);
    return 0;
  } catch (err) {
    if (err instanceof CliError) {
      streams.stderr.write(`stored-completions ${name}: ${err.message}\n`);
      if (err.exitCode === 2) streams.stderr.write(`(stored-completions ${name} --help shows the options)\n`);
      return err.exitCode;
    }
    if (err instanceof ConfigError || err instanceof DatabaseOpenError) {
      streams.stderr.write(`${err.message}\n`);
      return 1;
    }
    const failure = databaseFailure(err);
    if (failure !== undefined) {
      streams.stderr.write(`stored-completions ${name}: the database failed: ${failure}\nstopped: what was committed before stays\n`);
      return 1;
    }
    throw err;
  }
}

/**
 * A failure of the database under a running command, said in a line rather than as a stack trace: a full disk
 * (SQLite's SQLITE_FULL), PostgreSQL gone (the store's 503 "unavailable"), or an error PostgreSQL reported (its
 * five-character SQLSTATE). Undefined for anything else, a fault of the tool that keeps its stack trace.
 */
function databaseFailure(err: unknown): string | undefined {
  if (err instanceof ApiError) {
    if (err.status !== 503) return undefined;
    // The store's 503 carries what the database said, when it said something (a full disk, a refused connection):
    // that, with its code, not the client's text.
    if (!(err.cause instanceof Error)) return err.message;
    const code = (err.cause as { code?: unknown }).code;
    return databaseFailure(err.cause) ?? (typeof code === 'string' && !err.cause.message.includes(code) ? `${err.cause.message} (${code})` : err.cause.message);
  }
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  if (code.startsWith('SQLITE_') || (/^[0-9A-Z]{5}$/.test(code) && 'severity' in err)) return `${err.message} (${code})`;
  return undefined;
}
