import { createRuntime, type RuntimeOptions } from "@kontor/service-kit/runtime";
import type { Config } from "./config.js";
import { migrations } from "./store/migrations/index.js";
import type { PaymentsDatabase } from "./store/database.js";
import { createLedgerService } from "./domain/ledger-service.js";
import { registerPaymentsServer } from "./rpc/payments-server.js";
import { paymentsAccess } from "./rpc/access.js";
import { bounds } from "./rpc/bounds.js";

/** Composition root: build everything from config; start() returns the bound port. */
export async function createPayments(config: Config, overrides: Partial<Pick<RuntimeOptions, "log" | "afterPublish">> = {}) {
  const rt = await createRuntime<PaymentsDatabase>({ name: "payments", domain: "payments", config, migrations, access: paymentsAccess, bounds, ...overrides });
  const ledger = createLedgerService({ db: rt.db, enqueue: rt.enqueue });
  registerPaymentsServer(rt.grpc, ledger);
  return {
    log: rt.log,
    runtime: rt,
    start: () => rt.start(),
    stop: () => rt.stop(),
  };
}

export type PaymentsApp = Awaited<ReturnType<typeof createPayments>>;
