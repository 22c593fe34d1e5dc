import type { Readable, Writable } from 'node:stream';
import type { Config } from '../config.ts';

/** What a command runs with: the configuration (read when first needed, so `--help` works without one) and its streams. */
export interface CommandContext {
  config(): Config;
  stdin: Readable;
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean };
}

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The whole `--help` text, with an example. */
  help: string;
  run(argv: string[], context: CommandContext): Promise<void>;
}
