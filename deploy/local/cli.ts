/**
 * `npm run kontor -- <command> [options]`: the local stack's command line.
 * Commands live in commands/ (one module each, listed in commands/index.ts).
 */
import { UsageError } from "./commands/command.js";
import { commands } from "./commands/index.js";

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "usage: npm run kontor -- <command> [options]",
    "",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "npm run kontor -- help <command>   shows a command's options",
    "(use `npm run -s kontor -- …` to keep npm's own lines out of the output)",
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    const topic = commands.find((c) => c.name === rest[0]);
    process.stdout.write(`${topic ? `usage: ${topic.usage}` : help()}\n`);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`unknown command: ${name}\n\n${help()}\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`usage: ${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for unknown or malformed options.
    const code = (err as { code?: string }).code ?? "";
    if (err instanceof UsageError || code.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`${(err as Error).message}\n\nusage: ${command.usage}\n`);
      return 2;
    }
    process.stderr.write(`kontor ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
