import { runMigrations } from "@kontor/service-kit/migrate";
import { loadConfig } from "./config.js";
import { migrations } from "./store/migrations/index.js";

// Operators: `npm run migrate -w services/gateway` runs what start() runs.
await runMigrations("gateway", loadConfig, migrations);
