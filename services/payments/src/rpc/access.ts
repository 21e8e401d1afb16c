import type { PaymentsServiceServer } from "@kontor/proto/payments/v1/payments_service";
import { services, type AccessTableOf, type Caller } from "@kontor/service-kit/access";
import { LEDGER_ADMIN_ROLE } from "./authorize.js";

/** Account owners (and a business's partner) and the ledger's administrators. */
const OWNERS: readonly Caller[] = ["business", "partner", "customer", `staff:${LEDGER_ADMIN_ROLE}`];

/**
 * Who may call each PaymentsService RPC; the kit refuses everyone else
 * before a handler runs. Ads bills campaign spend: it reads and debits
 * advertisers' accounts.
 */
export const paymentsAccess: AccessTableOf<PaymentsServiceServer> = {
  OpenAccount: OWNERS,
  GetAccount: [...OWNERS, ...services("ads")],
  PostTransfer: [...OWNERS, ...services("ads")],
};
