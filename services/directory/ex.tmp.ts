import { sql } from "kysely";
import { generateSigningKeys } from "@kontor/service-kit/auth";
import { loadConfig } from "./src/config.js";
import { createDirectory } from "./src/app.js";
import { suggestQuery } from "./src/store/search-store.js";
const keys = await generateSigningKeys("x");
const app = await createDirectory(loadConfig({ DATABASE_URL: "postgres://postgres@127.0.0.1:5432/kontor_bench_directory", NATS_PREFIX: "benchexplain.", GRPC_PORT: "0", METRICS_PORT: "0", LOG_LEVEL: "warn", AUTH_PUBLIC_KEYS: JSON.stringify([keys.publicJwk]), POPULARITY_FROM_MESSAGING: "false" }));
const q = JSON.parse(process.argv[2]!);
const p = await app.services.directory.planSuggest(q);
for (let i = 0; i < 3; i++) {
  const { rows } = await sql<any>`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${suggestQuery(p!)}`.execute(app.runtime.db);
  if (i === 2) console.log(rows.map((r: any) => r["QUERY PLAN"]).filter((l: string) => /Index Cond|Bitmap Index|Bitmap Heap|Limit \(|Execution|Planning Time|Heap Blocks|Filter/.test(l)).join("\n"));
}
await app.stop(); process.exit(0);
