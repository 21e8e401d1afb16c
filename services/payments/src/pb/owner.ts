import type { AccountOwner as AccountOwnerPb } from "@kontor/proto/payments/v1/payments_service";
import type { AccountOwner } from "../domain/ledger-account.js";

// Proto <-> domain mapping that both rpc/ and events/ need; it imports only
// domain/, so neither layer reaches into the other.

export function ownerToPb(owner: AccountOwner): AccountOwnerPb {
  switch (owner.kind) {
    case "business":
      return { owner: { $case: "businessId", value: owner.id } };
    case "customer":
      return { owner: { $case: "customerId", value: owner.id } };
    case "system":
      return { owner: { $case: "system", value: owner.id } };
  }
}
