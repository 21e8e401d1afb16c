/**
 * One `npm run kontor -- <name> …` command. Add a command by writing a module
 * that exports one of these and listing it in commands/index.ts. Commands
 * with sub-commands (`customer send`) dispatch on their own first argument.
 */
export interface Command {
  name: string;
  /** One line for `kontor help`. */
  summary: string;
  /** Full usage text for `kontor help <name>` and bad arguments. */
  usage: string;
  /** Returns the process exit code. Throw UsageError for bad arguments. */
  run(argv: string[]): Promise<number>;
}

/** Bad or missing arguments: the CLI prints the message and the command's usage, and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}
