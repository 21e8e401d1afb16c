import { readFileSync } from "node:fs";

const useColor = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
const paint = (code: number) => (text: string) => (useColor ? `\x1b[${code}m${text}\x1b[0m` : text);

export const color = {
  bold: paint(1),
  dim: paint(2),
  red: paint(31),
  green: paint(32),
  yellow: paint(33),
  blue: paint(34),
  magenta: paint(35),
  cyan: paint(36),
};

/** The last `lines` lines of a text file ("" when it cannot be read). */
export function tailFile(path: string, lines: number): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** A plain table: left-aligned columns, two spaces apart. */
export function table(rows: string[][], indent = "  "): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell))));
  return rows
    .map((row) => indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - visibleLength(cell)))).join("  "))
    .join("\n");
}

function visibleLength(text: string): number {
  // eslint-disable-next-line no-control-regex -- strips our own colour codes
  return text.replace(/\x1b\[[0-9;]*m/g, "").length;
}

const SEVERITY_COLOR: Record<string, (s: string) => string> = {
  TRACE: color.dim,
  DEBUG: color.dim,
  INFO: color.green,
  WARN: color.yellow,
  ERROR: color.red,
  FATAL: color.red,
};
const HIDDEN_KEYS = new Set(["time", "severity", "level", "message", "msg", "service", "pid", "hostname", "err"]);

/**
 * One service log line for a human: pino JSON (the kit's shape: time,
 * severity, message, service, …) becomes "12:00:01 INFO message key=value";
 * anything else passes through unchanged. KONTOR_LOG_FORMAT=json keeps the JSON.
 */
export function formatLogLine(line: string): string {
  if (process.env.KONTOR_LOG_FORMAT === "json" || !line.startsWith("{")) return line;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof entry.time === "string" ? entry.time.slice(11, 19) : "";
  const severity = String(entry.severity ?? entry.level ?? "").toUpperCase();
  const message = String(entry.message ?? entry.msg ?? "");
  const extras = Object.entries(entry)
    .filter(([key]) => !HIDDEN_KEYS.has(key))
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
  const sev = (SEVERITY_COLOR[severity] ?? ((s: string) => s))(severity.padEnd(5));
  const head = [color.dim(time), sev, message, ...extras.map(color.dim)].filter((part) => part !== "").join(" ");
  // An error's stack reads better on its own lines than inside a JSON string.
  const err = entry.err as { stack?: unknown; message?: unknown } | undefined;
  if (err && typeof err === "object") {
    const detail = typeof err.stack === "string" ? err.stack : String(err.message ?? "");
    return `${head}\n${detail}`;
  }
  return head;
}
