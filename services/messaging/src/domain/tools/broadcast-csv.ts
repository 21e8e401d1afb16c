import { parse } from "csv-parse/sync";
import type { TemplateComponent } from "@kontor/proto/messaging/v1/message";
import { InvalidInput } from "@kontor/service-kit/errors";
import { isValidId, normalizeE164 } from "../participant.js";
import { BROADCAST_LIMITS, type RecipientInput } from "./broadcast-service.js";

/*
 * Broadcast recipients from a CSV file (UploadBroadcastRecipients): a header
 * row naming `phone` (E.164) and/or `customer_id`, and body parameter
 * columns `body.1`, `body.2`, … or named ones (`body.first_name`); then one
 * recipient per row. Every row is checked; the file is taken whole or not
 * at all, and a refusal names the first bad row and lists the first 100.
 */

export interface CsvRowError {
  /** Data row from 1 (the header is row 0). */
  row: number;
  column: string;
  message: string;
}

/** Bad rows listed in a refusal's metadata. */
export const LISTED_BAD_ROWS = 100;
/** A body parameter's text, as the Cloud API bounds it. */
const MAX_PARAMETER = 1024;

type Column = { kind: "phone" } | { kind: "customer_id" } | { kind: "param"; name: string; position: number | undefined };

function columnsOf(header: string[]): { columns: Column[]; errors: CsvRowError[] } {
  const errors: CsvRowError[] = [];
  const seen = new Set<string>();
  const columns = header.map((raw, i): Column => {
    const name = raw.trim().toLowerCase();
    if (seen.has(name)) errors.push({ row: 0, column: name, message: "repeats an earlier column" });
    seen.add(name);
    if (name === "phone") return { kind: "phone" };
    if (name === "customer_id") return { kind: "customer_id" };
    const param = /^body\.(?:([1-9][0-9]?)|([a-z_][a-z0-9_]{0,63}))$/.exec(name);
    if (param) return { kind: "param", name: param[2] ?? "", position: param[1] ? Number(param[1]) : undefined };
    errors.push({ row: 0, column: name || `column ${i + 1}`, message: "is not phone, customer_id or body.<n>" });
    return { kind: "param", name: "", position: undefined };
  });
  if (!columns.some((c) => c.kind === "phone" || c.kind === "customer_id")) errors.push({ row: 0, column: "phone", message: "the header needs a phone or customer_id column" });
  const positions = columns.flatMap((c) => (c.kind === "param" && c.position !== undefined ? [c.position] : [])).sort((a, b) => a - b);
  const named = columns.some((c) => c.kind === "param" && c.name !== "");
  if (positions.length > 0 && named) errors.push({ row: 0, column: "body", message: "parameters are all numbered (body.1) or all named (body.first_name)" });
  positions.forEach((p, i) => {
    if (p !== i + 1) errors.push({ row: 0, column: `body.${i + 1}`, message: "numbered parameters run body.1, body.2, … without gaps" });
  });
  return { columns, errors };
}

/** The recipients of a CSV file, and every bad row (empty when all are good). */
export function parseRecipientsCsv(text: string): { recipients: RecipientInput[]; errors: CsvRowError[] } {
  let records: string[][];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: true, trim: true, max_record_size: 64 * 1024 });
  } catch (err) {
    const e = err as { message?: string; lines?: number };
    throw new InvalidInput("chunk", `is not CSV (line ${e.lines ?? "?"}: ${String(e.message ?? "").slice(0, 200)})`);
  }
  const [header, ...rows] = records;
  if (!header) throw new InvalidInput("chunk", "the file is empty; it needs a header row");
  if (rows.length > BROADCAST_LIMITS.perBroadcast) throw new InvalidInput("chunk", `at most ${BROADCAST_LIMITS.perBroadcast} rows`);
  const { columns, errors } = columnsOf(header);
  if (errors.length > 0) return { recipients: [], errors };

  const params = columns.map((c, i) => ({ c, i })).filter((x): x is { c: Extract<Column, { kind: "param" }>; i: number } => x.c.kind === "param").sort((a, b) => (a.c.position ?? 0) - (b.c.position ?? 0));
  const phoneAt = columns.findIndex((c) => c.kind === "phone");
  const customerAt = columns.findIndex((c) => c.kind === "customer_id");
  const firstRowOf = new Map<string, number>();
  const recipients: RecipientInput[] = [];
  rows.forEach((cells, index) => {
    const row = index + 1;
    const bad = (column: string, message: string) => errors.push({ row, column, message });
    if (cells.length !== header.length) return bad("", `has ${cells.length} fields; the header has ${header.length}`);
    const phone = phoneAt >= 0 ? cells[phoneAt]! : "";
    const customerId = customerAt >= 0 ? cells[customerAt]! : "";
    let who: RecipientInput;
    if (phone && customerId) return bad("customer_id", "a row names a phone or a customer_id, not both");
    if (customerId) {
      if (!isValidId(customerId)) return bad("customer_id", "must be 1-64 characters of [A-Za-z0-9_-]");
      who = { customerId, e164: "", components: undefined };
    } else {
      const e164 = normalizeE164(phone);
      if (!e164) return bad(phoneAt >= 0 ? "phone" : "customer_id", phone ? "must be a phone number in E.164 form (+4915…)" : "is empty");
      who = { customerId: "", e164, components: undefined };
    }
    const key = who.customerId ? `c:${who.customerId}` : `p:${who.e164}`;
    const earlier = firstRowOf.get(key);
    if (earlier !== undefined) return bad(who.customerId ? "customer_id" : "phone", `repeats row ${earlier}`);
    firstRowOf.set(key, row);
    const values = params.map((p) => cells[p.i]!);
    if (values.some((v) => v !== "")) {
      const empty = params.find((p) => cells[p.i] === "");
      if (empty) return bad(header[empty.i]!.trim().toLowerCase(), "is empty while the row sets other parameters");
      const long = params.find((p) => cells[p.i]!.length > MAX_PARAMETER);
      if (long) return bad(header[long.i]!.trim().toLowerCase(), `must be at most ${MAX_PARAMETER} characters`);
      const components: TemplateComponent[] = [
        {
          type: "body",
          subType: "",
          index: 0,
          parameters: params.map((p) => ({ type: "text", parameterName: p.c.name, text: cells[p.i]!, currency: undefined, dateTime: "", media: undefined, location: undefined, payload: "", couponCode: "" })),
        },
      ];
      who = { ...who, components };
    }
    recipients.push(who);
  });
  return { recipients, errors };
}

/** The refusal of a file with bad rows: the first one named as the field, the first 100 in the metadata (`bad_rows`: "row:column" each). */
export function csvRefusal(errors: readonly CsvRowError[]): InvalidInput {
  const first = errors[0]!;
  const field = first.row === 0 ? `csv.header.${first.column}` : `csv.rows[${first.row}]${first.column ? `.${first.column}` : ""}`;
  const more = errors.length > 1 ? ` (${errors.length} problems in all)` : "";
  const err = new InvalidInput(field, `${first.message}${more}`);
  err.metadata = {
    bad_row_count: String(errors.length),
    bad_rows: errors
      .slice(0, LISTED_BAD_ROWS)
      .map((e) => `${e.row}:${e.column}`)
      .join(","),
  };
  return err;
}
