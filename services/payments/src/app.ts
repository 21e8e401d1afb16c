import { createRuntime, type RuntimeOptions } from "@kontor/service-kit/runtime";
import type { Config } from "./config.js";
import { migrations } from "./store/migrations/index.js";
import type { PaymentsDatabase } from "./store/database.js";
import { createLedgerService } from "./domain/ledger-service.js";
import { createPinService } from "./domain/pin-service.js";
import { createBankService } from "./domain/bank-service.js";
import { createSandboxBank, type BankRail } from "./domain/bank-rail.js";
import { createP2pService } from "./domain/p2p-service.js";
import { createPaymentService } from "./domain/payment-service.js";
import { registerPaymentsServer } from "./rpc/payments-server.js";
import { createBankCallbackServer } from "./rpc/bank-callback-http.js";
import { registerConsumers } from "./events/consumers.js";
import { createBillingService } from "./domain/billing-service.js";
import { createSettlementService } from "./domain/settlement-service.js";
import { parseRateCard, previousPeriod } from "./domain/billing.js";
import { paymentsAccess } from "./rpc/access.js";
import { bounds } from "./rpc/bounds.js";

export interface PaymentsOverrides extends Partial<Pick<RuntimeOptions, "log" | "afterPublish">> {
  /** The clock for expiry and lockout (tests move it instead of waiting). */
  now?: () => Date;
  /** Another bank rail than the configured one. */
  rail?: BankRail;
}

/** Composition root: build everything from config; start() returns the bound port. */
export async function createPayments(config: Config, overrides: PaymentsOverrides = {}) {
  const { now: clock, rail: railOverride, ...runtimeOverrides } = overrides;
  const rt = await createRuntime<PaymentsDatabase>({ name: "payments", domain: "payments", config, migrations, access: paymentsAccess, bounds, ...runtimeOverrides });
  const now = clock ?? (() => new Date());
  const base = { db: rt.db, enqueue: rt.enqueue, now };
  // The sandbox calls back over HTTP, to the service's own callback endpoint, as a bank would.
  let callbackUrl: string | undefined;
  const rail =
    railOverride ??
    createSandboxBank({
      secret: config.BANK_WEBHOOK_SECRET,
      latencyMs: config.BANK_SANDBOX_LATENCY_MS,
      failureRate: config.BANK_SANDBOX_FAILURE_RATE,
      seed: config.BANK_SANDBOX_SEED,
      callbackUrl: () => callbackUrl,
    });
  const ledger = createLedgerService({ ...base, batchMax: config.TRANSFER_BATCH_MAX, batchesInFlight: config.TRANSFER_BATCHES_IN_FLIGHT });
  const pins = createPinService({ db: rt.db, now, scryptCost: config.PIN_SCRYPT_COST, coolingOffMs: config.PIN_COOLING_OFF_MS, verifiedTtlMs: config.PIN_VERIFIED_TTL_MS });
  const billing = createBillingService({ ...base, ledger, rates: parseRateCard(config.BILLING_RATES) });
  const bank = createBankService({
    ...base,
    ledger,
    // A business topped up its wallet: its open invoices are paid from it.
    afterTopUp: async (account) => {
      if (account.owner.kind === "business") await billing.payOpen(account.owner.id);
    },
    rail,
    dataKey: config.BANK_DATA_KEY ? Buffer.from(config.BANK_DATA_KEY, "base64") : undefined,
    webhookSecret: config.BANK_WEBHOOK_SECRET,
    payoutTimeoutMs: config.PAYOUT_TIMEOUT_MS,
    askAgainAfterMs: config.BANK_ASK_AGAIN_AFTER_MS,
    log: rt.log,
  });
  const settlement = createSettlementService({ db: rt.db, now, ledger, bank, intervalMs: config.SETTLEMENT_INTERVAL_MS, log: rt.log });
  const p2p = createP2pService({ ...base, ledger, pins, defaultCollectTtlMs: config.COLLECT_TTL_MS });
  const payments = createPaymentService({
    ...base,
    ledger,
    pins,
    plans: JSON.parse(config.PLAN_FEE_BPS) as Record<string, number>,
    defaultPlan: config.DEFAULT_PLAN,
    intentTtlMs: config.PAYMENT_INTENT_TTL_MS,
    railName: rail.name,
    submitBankOperation: (id) => bank.submitById(id),
  });
  registerPaymentsServer(rt.grpc, { ledger, pins, bank, p2p, payments, billing, settlement });
  const callbacks = createBankCallbackServer(rail.name, bank, rt.log);
  registerConsumers(rt, payments, billing);
  if (!config.BANK_DATA_KEY) rt.log.warn("BANK_DATA_KEY is not set: linking bank accounts is refused");

  /** Every replica sweeps; each sweep locks its rows, so two replicas never apply one expiry twice. */
  async function sweep(): Promise<void> {
    await ledger.expirePending();
    await payments.expireIntents();
    await p2p.expireRequests();
    await bank.resubmitPending();
    await settlement.settleDue();
    // Once a month has begun, the month before is invoiced (a repeat issues nothing new).
    await billing.issue(previousPeriod(now()));
    // Invoices left open (a wallet that could not pay on issue) are paid once it can.
    await billing.payOpen();
  }
  let timer: NodeJS.Timeout | undefined;
  rt.onStart(async () => {
    callbackUrl = await callbacks.listen(config.BANK_CALLBACK_HOST, config.BANK_CALLBACK_PORT);
    timer = setInterval(() => void sweep().catch((err: unknown) => rt.log.warn({ err: { message: (err as Error).message } }, "sweep failed")), config.SWEEP_INTERVAL_MS);
    timer.unref();
  });
  rt.onStop(async () => {
    if (timer) clearInterval(timer);
    rail.stop();
    await callbacks.close();
  });
  return {
    log: rt.log,
    runtime: rt,
    services: { ledger, pins, bank, p2p, payments, billing, settlement },
    rail,
    bankCallbacks: callbacks,
    sweep,
    start: () => rt.start(),
    stop: () => rt.stop(),
  };
}

export type PaymentsApp = Awaited<ReturnType<typeof createPayments>>;
