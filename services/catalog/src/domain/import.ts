import { InvalidInput, KontorError } from "@kontor/service-kit/errors";
import { minorDigits, parseCurrency } from "@kontor/service-kit/money";
import { Availability, emptyProductInput, INT64_MAX, type ProductInput } from "./product.js";

/**
 * Product files for ImportProducts: CSV with a header row, or JSON lines
 * with the same keys. Prices are written as merchants write them ("19.99"
 * with a currency) and become minor units by string arithmetic; `price_minor`
 * takes minor units directly. Lists (image_urls, categories, collections)
 * are separated by "|".
 */
export const IMPORT_COLUMNS = [
  "retailer_id", "name", "description", "price", "price_minor", "currency", "sale_price", "sale_price_minor", "sale_starts_at", "sale_ends_at",
  "availability", "inventory", "image_urls", "categories", "collections", "item_group_id", "size", "color", "visible",
] as const;

export type ImportRow = { index: number; input: ProductInput } | { index: number; retailerId: string; error: KontorError };

/** A decimal amount in major units ("19.99") as minor units of the currency, refusing extra digits; never a float. */
export function decimalToMinor(field: string, text: string, currency: string): bigint {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!m) throw new InvalidInput(field, "must be a decimal amount such as 19.99");
  const digits = minorDigits(currency);
  const frac = m[2] ?? "";
  if (frac.length > digits) throw new InvalidInput(field, `has more than ${digits} decimals for ${currency}`);
  const value = BigInt(m[1]!) * 10n ** BigInt(digits) + BigInt(frac.padEnd(digits, "0") || "0");
  if (value > INT64_MAX) throw new InvalidInput(field, "is too large");
  return value;
}

const AVAILABILITY_WORDS: Record<string, number> = {
  "": 0,
  "in stock": Availability.IN_STOCK,
  in_stock: Availability.IN_STOCK,
  "out of stock": Availability.OUT_OF_STOCK,
  out_of_stock: Availability.OUT_OF_STOCK,
  preorder: Availability.PREORDER,
  discontinued: Availability.DISCONTINUED,
};

function list(value: string): string[] {
  return value.split("|").map((s) => s.trim()).filter(Boolean);
}

function date(field: string, value: string): Date | undefined {
  if (!value.trim()) return undefined;
  const d = new Date(value.trim());
  if (Number.isNaN(d.getTime())) throw new InvalidInput(field, "must be an ISO 8601 time");
  return d;
}

function integer(field: string, value: string): string {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidInput(field, "must be an integer");
  return value.trim();
}

/** One record (column → text) as a ProductInput; throws InvalidInput naming the column. */
export function recordToInput(rec: Record<string, string>): ProductInput {
  const get = (k: string) => rec[k] ?? "";
  const currency = get("currency").trim().toUpperCase();
  const money = (decimalKey: string, minorKey: string) => {
    const minor = get(minorKey).trim();
    const decimal = get(decimalKey).trim();
    if (!minor && !decimal) return undefined;
    parseCurrency("currency", currency);
    return { amountMinor: minor ? integer(minorKey, minor) : decimalToMinor(decimalKey, decimal, currency).toString(), currency };
  };
  const availability = AVAILABILITY_WORDS[get("availability").trim().toLowerCase()];
  if (availability === undefined) throw new InvalidInput("availability", "must be in stock, out of stock, preorder or discontinued");
  const visible = get("visible").trim().toLowerCase();
  if (visible && !["true", "false", "1", "0", "yes", "no"].includes(visible)) throw new InvalidInput("visible", "must be true or false");
  const price = money("price", "price_minor");
  if (!price) throw new InvalidInput("price", "is required");
  const inventory = get("inventory").trim();
  return {
    ...emptyProductInput(),
    retailerId: get("retailer_id"),
    name: get("name"),
    description: get("description"),
    price,
    salePrice: money("sale_price", "sale_price_minor"),
    saleStartsAt: date("sale_starts_at", get("sale_starts_at")),
    saleEndsAt: date("sale_ends_at", get("sale_ends_at")),
    availability,
    inventory: inventory ? integer("inventory", inventory) : undefined,
    imageUrls: list(get("image_urls")),
    categories: list(get("categories")),
    collections: list(get("collections")),
    itemGroupId: get("item_group_id"),
    size: get("size"),
    color: get("color"),
    visible: visible ? ["true", "1", "yes"].includes(visible) : undefined,
  };
}

/** Largest line (or quoted CSV field run) a file may hold. */
const MAX_RECORD_CHARS = 64 * 1024;

/**
 * Reads a file pushed in chunks (cut anywhere, even inside a UTF-8
 * character or a quoted CSV field) and returns complete rows as they end.
 */
export class ProductFileReader {
  private readonly decoder = new TextDecoder("utf-8");
  private buffer = "";
  private header: string[] | undefined;
  private rows = 0;

  constructor(private readonly format: "csv" | "jsonl") {}

  push(chunk: Uint8Array): ImportRow[] {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    return this.drain(false);
  }

  end(): ImportRow[] {
    this.buffer += this.decoder.decode();
    return this.drain(true);
  }

  private drain(final: boolean): ImportRow[] {
    const out: ImportRow[] = [];
    for (;;) {
      const cut = this.format === "csv" ? csvRecordEnd(this.buffer) : this.buffer.indexOf("\n");
      let record: string;
      if (cut < 0) {
        if (!final) {
          if (this.buffer.length > MAX_RECORD_CHARS) throw new InvalidInput("chunk", `a line is longer than ${MAX_RECORD_CHARS} characters`);
          return out;
        }
        if (!this.buffer.trim()) return out;
        record = this.buffer;
        this.buffer = "";
      } else {
        record = this.buffer.slice(0, cut);
        this.buffer = this.buffer.slice(cut + 1);
      }
      record = record.replace(/\r$/, "");
      if (!record.trim()) continue;
      const row = this.format === "csv" ? this.csvRow(record) : this.jsonRow(record);
      if (row) out.push(row);
    }
  }

  private csvRow(record: string): ImportRow | undefined {
    const cells = parseCsvRecord(record);
    if (!this.header) {
      this.header = cells.map((c) => c.trim().toLowerCase().replace(/^\uFEFF/, ""));
      if (!this.header.includes("retailer_id")) throw new InvalidInput("chunk", "the CSV header must name a retailer_id column");
      return undefined;
    }
    const rec: Record<string, string> = {};
    this.header.forEach((h, i) => (rec[h] = cells[i] ?? ""));
    return this.toRow(rec);
  }

  private jsonRow(record: string): ImportRow {
    let parsed: unknown;
    try {
      parsed = JSON.parse(record);
    } catch {
      return { index: this.rows++, retailerId: "", error: new InvalidInput("line", "is not a JSON object") };
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return { index: this.rows++, retailerId: "", error: new InvalidInput("line", "is not a JSON object") };
    const rec: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed)) rec[k] = Array.isArray(v) ? v.map(String).join("|") : v === null || v === undefined ? "" : String(v);
    return this.toRow(rec);
  }

  private toRow(rec: Record<string, string>): ImportRow {
    const index = this.rows++;
    try {
      return { index, input: recordToInput(rec) };
    } catch (err) {
      if (err instanceof KontorError) return { index, retailerId: (rec.retailer_id ?? "").slice(0, 100), error: err };
      throw err;
    }
  }
}

/** Index of the newline that ends the first CSV record (quotes may hold newlines), or -1. */
function csvRecordEnd(text: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) quoted = !quoted;
    else if (c === 10 && !quoted) return i;
  }
  return -1;
}

/** RFC 4180 fields of one record. */
export function parseCsvRecord(record: string): string[] {
  const cells: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < record.length; i++) {
    const ch = record[i]!;
    if (quoted) {
      if (ch === '"') {
        if (record[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      cells.push(cell);
      cell = "";
    } else cell += ch;
  }
  cells.push(cell);
  return cells;
}
