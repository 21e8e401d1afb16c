import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CatalogServiceClient } from "@kontor/proto/catalog/v1/catalog_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { loadConfig } from "../src/config.js";
import { createCatalog, type CatalogApp } from "../src/app.js";
import { main } from "../src/cli/import.js";
import { call, clientAt } from "./factories.js";

let env: TestEnv;
let app: CatalogApp;
let client: CatalogServiceClient;
let address: string;
let owner: string;
let dir: string;
const BIZ = "biz_cli";

beforeAll(async () => {
  env = await createTestEnv();
  app = await createCatalog(loadConfig(env.env({ SWEEP_INTERVAL_MS: "0" })));
  const { port } = await app.start();
  address = `127.0.0.1:${port}`;
  client = clientAt(port);
  owner = await env.token({ kind: "business", businessId: BIZ });
  dir = mkdtempSync(join(tmpdir(), "catalog-cli-"));
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs the command as `npm run catalog:import -- …` would, from `cwd`, capturing its output. */
async function run(argv: string[], cwd = dir, token = owner): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { INIT_CWD: cwd, KONTOR_TOKEN: token }, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe("catalog:import", () => {
  it("when a CSV of 1,203 rows with two bad ones is imported by file name, then the rows land, progress shows as it goes, each bad row is named with its field, and the exit code says some failed", async () => {
    const catalogId = (await call(client, "createCatalog", { businessId: BIZ, name: "From a file" }, owner)).catalog!.id;
    const lines = ["retailer_id,name,price,currency,inventory"];
    for (let i = 0; i < 1203; i++) lines.push(i === 7 ? "CLI-7,Bad price,1.999,EUR," : i === 900 ? "CLI-900,,1.00,EUR," : `CLI-${i},"Item ${i}, boxed",${i}.50,EUR,${i}`);
    writeFileSync(join(dir, "products.csv"), lines.join("\n"));
    const { code, out, err } = await run(["--catalog", catalogId, "--address", address, "products.csv"]);
    expect(code).toBe(1);
    expect(JSON.parse(out.at(-1)!)).toEqual({ rowsRead: 1203, created: 1201, updated: 0, failed: 2 });
    expect(err.filter((l) => l.startsWith("progress:")).length).toBeGreaterThanOrEqual(2);
    expect(err.filter((l) => l.startsWith("row "))).toEqual([expect.stringMatching(/^row 7 \(CLI-7\): price: /), expect.stringMatching(/^row 900 \(CLI-900\): name: /)]);
    expect(err.at(-1)).toBe("done: 1203 rows read, 1201 created, 0 updated, 2 failed");
    const found = await call(client, "searchProducts", { catalogId, query: "", page: { pageSize: 1, pageToken: "" } }, owner);
    expect(found.products[0]!.retailerId).toMatch(/^CLI-/);
    const one = await call(client, "getProductMessage", { catalogId, productRetailerId: "CLI-1202" }, owner);
    expect(one.product!.price).toEqual({ amountMinor: "120250", currency: "EUR" });
    expect(one.product!.name).toBe("Item 1202, boxed");
  });

  it("when a JSON-lines file is imported again with changes, then rows are updated and the exit code is 0", async () => {
    const catalogId = (await call(client, "createCatalog", { businessId: BIZ, name: "Lines" }, owner)).catalog!.id;
    const file = join(dir, "products.jsonl");
    writeFileSync(file, [{ retailer_id: "J1", name: "Teapot", price_minor: 4500, currency: "EUR" }, { retailer_id: "J2", name: "Cup", price: "3.5", currency: "EUR" }].map((r) => JSON.stringify(r)).join("\n"));
    expect((await run(["--catalog", catalogId, "--address", address, file])).code).toBe(0);
    writeFileSync(file, JSON.stringify({ retailer_id: "J1", name: "Teapot", price_minor: 4900, currency: "EUR" }));
    const again = await run(["--catalog", catalogId, "--address", address, file]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out.at(-1)!)).toEqual({ rowsRead: 1, created: 0, updated: 1, failed: 0 });
    expect((await call(client, "getProductMessage", { catalogId, productRetailerId: "J1" }, owner)).product!.price!.amountMinor).toBe("4900");
  });

  it("when the catalog is another business's, the file is missing or its format unknown, then nothing is imported and the exit code says why", async () => {
    const catalogId = (await call(client, "createCatalog", { businessId: BIZ, name: "Guarded" }, owner)).catalog!.id;
    writeFileSync(join(dir, "one.csv"), "retailer_id,name,price,currency\nX1,Thing,1.00,EUR");
    const rival = await env.token({ kind: "business", businessId: "biz_cli_rival" });
    const refused = await run(["--catalog", catalogId, "--address", address, "one.csv"], dir, rival);
    expect(refused.code).toBe(1);
    expect(refused.err.join("\n")).toMatch(/catalog:import: /);
    expect((await run(["--catalog", catalogId, "--address", address, "missing.csv"])).code).toBe(2);
    writeFileSync(join(dir, "one.xml"), "<x/>");
    expect((await run(["--catalog", catalogId, "--address", address, "one.xml"])).code).toBe(2);
    expect((await run(["--address", address, "one.csv"])).code).toBe(2);
    const listed = await call(client, "searchProducts", { catalogId, query: "", page: { pageSize: 10, pageToken: "" } }, owner);
    expect(listed.products).toEqual([]);
  });
});
