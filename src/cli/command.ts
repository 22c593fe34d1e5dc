import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Readable, Writable } from 'node:stream';
import type { Config } from '../config.ts';
import { UsageError } from './errors.ts';

/** What a command runs with: the configuration (read when first needed, so `--help` works without one) and its streams. */
export interface CommandContext {
  config(): Config;
  stdin: Readable;
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean };
  /**
   * Has `cleanup` run (for at most a couple of seconds) before the tool exits on SIGINT or SIGTERM, such as giving
   * back a claim another run would otherwise wait for; returns what removes it. Absent when run in-process (tests).
   */
  onInterrupt?(cleanup: () => Promise<void>): () => void;
}

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The whole `--help` text, with an example. */
  help: string;
  run(argv: string[], context: CommandContext): Promise<void>;
}

export type OptionsConfig = NonNullable<ParseArgsConfig['options']>;
type Parsed<T extends OptionsConfig> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>>;

export interface CommandSpec<T extends OptionsConfig> extends Omit<Command, 'run'> {
  options: T;
  /** Takes arguments besides options (a file name); refused otherwise. */
  positionals?: boolean;
  run(args: Parsed<T>, context: CommandContext): Promise<void>;
}

/**
 * A command from its options and its work: the arguments are parsed strictly
 * (an unknown option or a missing value is a usage error, not a stack trace)
 * and `--help` prints the help text instead of running.
 */
export function defineCommand<T extends OptionsConfig>(spec: CommandSpec<T>): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    help: spec.help,
    async run(argv, context) {
      if (argv.includes('--help') || argv.includes('-h')) {
        context.stdout.write(`${spec.help}\n`);
        return;
      }
      let parsed: Parsed<T>;
      try {
        parsed = parseArgs({ args: argv, options: spec.options, allowPositionals: true, strict: true });
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      if (!spec.positionals && parsed.positionals.length > 0) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
      await spec.run(parsed, context);
    },
  };
}
