/**
 * `npm run catalog:import -- --catalog <id> products.csv|products.jsonl`
 *
 * Sends a CSV or JSON-lines file to ImportProducts in 64 KiB chunks and
 * prints the service's progress as it comes (every 500 rows), each failed
 * row with its data-row index, field and reason, and a summary. Exit code:
 * 0 when every row was imported, 1 when some failed or the call did, 2 on
 * a usage error. The service address and token default to the local
 * stack's (.kontor/local.json: services.catalog and the demo partner's
 * token); --address / --token (or KONTOR_TOKEN) point it elsewhere.
 */
import { createReadStream, existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { CatalogServiceClient, ImportFormat, type ImportProductsResponse } from "@kontor/proto/catalog/v1/catalog_service";

const USAGE = "npm run catalog:import -- --catalog <catalog id> [--format csv|jsonl] [--address host:port] [--token <token>] <file>";
const CHUNK = 64 * 1024;

export interface ImportOptions {
  address: string;
  token: string;
  catalogId: string;
  file: string;
  format: ImportFormat;
  /** Where progress and failures go (stderr by default). */
  progress?: (line: string) => void;
}

export interface ImportSummary {
  rowsRead: number;
  created: number;
  updated: number;
  failed: number;
}

/** The format a file's name implies: .csv, or .jsonl / .ndjson / .json (one object per line). */
export function formatOf(file: string, given?: string): ImportFormat {
  const f = (given ?? file.slice(file.lastIndexOf(".") + 1)).toLowerCase();
  if (f === "csv") return ImportFormat.IMPORT_FORMAT_CSV;
  if (f === "jsonl" || f === "ndjson" || f === "json") return ImportFormat.IMPORT_FORMAT_JSON_LINES;
  throw new UsageError(`cannot tell the format of ${file}: name it .csv or .jsonl, or pass --format csv|jsonl`);
}

export class UsageError extends Error {}

/** Streams the file to ImportProducts; resolves with the final counts once the service says done. */
export function importFile(options: ImportOptions): Promise<ImportSummary> {
  const say = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const client = new CatalogServiceClient(options.address, credentials.createInsecure());
  const md = new Metadata();
  md.set("authorization", `Bearer ${options.token}`);
  return new Promise<ImportSummary>((resolvePromise, reject) => {
    const call = client.importProducts(md);
    let last: ImportProductsResponse | undefined;
    const finish = (err?: Error) => {
      client.close();
      if (err) reject(err);
      else if (!last?.done) reject(new Error("the service ended the import without its final counts"));
      else resolvePromise({ rowsRead: last.rowsRead, created: last.created, updated: last.updated, failed: last.failed });
    };
    call.on("data", (m: ImportProductsResponse) => {
      last = m;
      for (const f of m.failures) say(`row ${f.index}${f.retailerId ? ` (${f.retailerId})` : ""}: ${f.field ? `${f.field}: ` : ""}${f.reason ? `${f.reason}: ` : ""}${f.message}`);
      say(`${m.done ? "done" : "progress"}: ${m.rowsRead} rows read, ${m.created} created, ${m.updated} updated, ${m.failed} failed`);
    });
    call.on("error", (err: ServiceError) => finish(new Error(err.details || err.message)));
    call.on("end", () => finish());

    // Backpressure: wait for the call to drain before reading more of a large file.
    const file = createReadStream(options.file, { highWaterMark: CHUNK });
    let first = true;
    file.on("data", (chunk) => {
      const ok = call.write({ catalogId: first ? options.catalogId : "", format: first ? options.format : ImportFormat.IMPORT_FORMAT_UNSPECIFIED, chunk: chunk as Buffer });
      first = false;
      if (!ok) {
        file.pause();
        call.once("drain", () => file.resume());
      }
    });
    file.on("end", () => {
      // An empty file still names its catalog and format.
      if (first) call.write({ catalogId: options.catalogId, format: options.format, chunk: Buffer.alloc(0) });
      call.end();
    });
    file.on("error", (err) => {
      call.cancel();
      finish(err);
    });
  });
}

/** The local stack's address and token (.kontor/local.json at the repository root), when it has been started. */
function localDefaults(): { address?: string; token?: string } {
  // src/cli → the repository root
  const path = resolve(import.meta.dirname, "../../../../.kontor/local.json");
  if (!existsSync(path)) return {};
  const local = JSON.parse(readFileSync(path, "utf8")) as { services?: { catalog?: string }; partner?: { token?: string } };
  return { address: local.services?.catalog, token: local.partner?.token };
}

export interface Io {
  out(line: string): void;
  err(line: string): void;
}
const stdio: Io = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };

export async function main(argv: string[], env: Record<string, string | undefined> = process.env, io: Io = stdio): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { catalog: { type: "string" }, format: { type: "string" }, address: { type: "string" }, token: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
    if (values.help) {
      io.out(`usage: ${USAGE}`);
      return 0;
    }
    if (!values.catalog) throw new UsageError("--catalog is required");
    if (positionals.length !== 1) throw new UsageError("name exactly one file");
    // npm runs scripts from the package's folder; the file is named from where the user stood.
    const file = resolve(env.INIT_CWD ?? process.cwd(), positionals[0]!);
    if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
    const local = localDefaults();
    const address = values.address ?? local.address;
    const token = values.token ?? env.KONTOR_TOKEN ?? local.token;
    if (!address) throw new UsageError("no catalog address: pass --address, or start the local stack (npm start)");
    if (!token) throw new UsageError("no token: pass --token or set KONTOR_TOKEN, or start the local stack (npm start)");
    const summary = await importFile({ address, token, catalogId: values.catalog, file, format: formatOf(file, values.format), progress: io.err });
    io.out(JSON.stringify(summary));
    return summary.failed === 0 ? 0 : 1;
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    if (err instanceof UsageError || code.startsWith("ERR_PARSE_ARGS")) {
      io.err(`${(err as Error).message}\nusage: ${USAGE}`);
      return 2;
    }
    io.err(`catalog:import: ${(err as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  process.exitCode = await main(process.argv.slice(2));
}
