import { describe, expect, it } from "vitest";
import { csvRefusal, parseRecipientsCsv } from "./broadcast-csv.js";

describe("parseRecipientsCsv", () => {
  it("when rows carry named parameters, quoted commas and spaces around a number, then each row is a recipient with its own body parameters", () => {
    const { recipients, errors } = parseRecipientsCsv('Phone,body.first_name,body.order\n" +49 151 1234 5678 ","Ana, Maria",A-1\n');
    expect(errors).toEqual([]);
    expect(recipients).toHaveLength(1);
    expect(recipients[0]!.e164).toBe("+4915112345678");
    expect(recipients[0]!.components![0]!.parameters.map((p) => [p.parameterName, p.text])).toEqual([
      ["first_name", "Ana, Maria"],
      ["order", "A-1"],
    ]);
  });

  it("when rows are bad, then each is reported with its row and column, and the refusal names the first and lists them", () => {
    const { errors } = parseRecipientsCsv("customer_id,phone\nc1,+4915112345678\n,\nbad id!,\nc2,\nc2,\n");
    expect(errors).toEqual([
      { row: 1, column: "customer_id", message: "a row names a phone or a customer_id, not both" },
      { row: 2, column: "phone", message: "is empty" },
      { row: 3, column: "customer_id", message: "must be 1-64 characters of [A-Za-z0-9_-]" },
      { row: 5, column: "customer_id", message: "repeats row 4" },
    ]);
    const err = csvRefusal(errors);
    expect(err.field).toBe("csv.rows[1].customer_id");
    expect(err.metadata).toEqual({ bad_row_count: "4", bad_rows: "1:customer_id,2:phone,3:customer_id,5:customer_id" });
  });

  it("when the header is wrong or the text is not CSV, then the header's problem or the line is named", () => {
    expect(parseRecipientsCsv("phone,body.1,body.name\n").errors.map((e) => e.column)).toEqual(["body"]);
    expect(parseRecipientsCsv("body.1\n").errors.map((e) => e.message)).toEqual(["the header needs a phone or customer_id column"]);
    expect(() => parseRecipientsCsv('phone\n"+49151 unclosed\n')).toThrow(expect.objectContaining({ field: "chunk" }));
  });
});
