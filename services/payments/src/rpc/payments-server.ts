import { PaymentsServiceService, type PaymentsServiceServer } from "@kontor/proto/payments/v1/payments_service";
import type { KitServer } from "@kontor/service-kit/grpc-server";
import { principalLabel } from "@kontor/service-kit/auth";
import { InvalidInput } from "@kontor/service-kit/errors";
import { validateOpenAccount } from "../domain/ledger-account.js";
import type { LedgerService } from "../domain/ledger-service.js";
import { validateTransfer } from "../domain/transfer.js";
import { accountToPb, ownerFromPb, transferToPb } from "./mappers.js";
import { authorizeGetAccount, authorizeOpenAccount, authorizePostTransfer } from "./authorize.js";

/** Thin handlers: decode → validate → authorize → domain → map. */
export function registerPaymentsServer(grpc: KitServer, ledger: LedgerService): void {
  const handlers: PaymentsServiceServer = {
    openAccount: grpc.unary("OpenAccount", async (req, ctx) => {
      const open = validateOpenAccount({ owner: ownerFromPb(req.owner), currency: req.currency, allowNegativeBalance: req.allowNegativeBalance });
      authorizeOpenAccount(ctx.principal, open);
      const account = await ledger.openAccount(open);
      return { account: accountToPb(account) };
    }),
    getAccount: grpc.unary("GetAccount", async (req, ctx) => {
      if (!req.accountId) throw new InvalidInput("account_id", "is required");
      const account = await ledger.getAccount(req.accountId);
      authorizeGetAccount(ctx.principal, account);
      return { account: accountToPb(account) };
    }),
    postTransfer: grpc.unary("PostTransfer", async (req, ctx) => {
      const transfer = validateTransfer({
        idempotencyKey: req.idempotencyKey,
        fromAccountId: req.fromAccountId,
        toAccountId: req.toAccountId,
        amount: req.amount,
        note: req.note,
      });
      authorizePostTransfer(ctx.principal, await ledger.getAccount(transfer.fromAccountId));
      const result = await ledger.postTransfer(principalLabel(ctx.principal), transfer);
      return { transfer: transferToPb(result.transfer), replayed: result.replayed };
    }),
  };
  grpc.addService(PaymentsServiceService, handlers);
}
