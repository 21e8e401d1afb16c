import { describe, expect, it } from "vitest";
import type { Principal } from "@kontor/service-kit/auth";
import { NotFound, NotYours } from "@kontor/service-kit/errors";
import { createDirectoryCache } from "../domain/directory.js";
import type { Party } from "../domain/participant.js";
import {
  authorizeEraseBusinessKey,
  authorizeFailMessage,
  authorizeGetMessage,
  authorizeListConversations,
  authorizeListMessages,
  authorizeReportReceipt,
  authorizeSendMessage,
  authorizeSendMessageStream,
  authorizeSendTyping,
  authorizeStreamInbox,
} from "./authorize.js";

const numbers = createDirectoryCache();
numbers.apply({ phoneNumberId: "pn_1", businessId: "biz_1", e164: "+4915100000001", displayName: "One", verified: false, verifiedName: "", active: true, version: 1 });

const number: Party = { kind: "business", id: "pn_1" };
const ana: Party = { kind: "customer", id: "ana" };

const owner: Principal = { kind: "business", businessId: "biz_1" };
const otherBusiness: Principal = { kind: "business", businessId: "biz_2" };
const partner: Principal = { kind: "partner", partnerId: "bsp", businessIds: ["biz_1"] };
const otherPartner: Principal = { kind: "partner", partnerId: "bsp2", businessIds: ["biz_2"] };
const anaHerself: Principal = { kind: "customer", customerId: "ana" };
const bob: Principal = { kind: "customer", customerId: "bob" };
const gateway: Principal = { kind: "service", service: "gateway" };
const operator: Principal = { kind: "staff", staffId: "op1", roles: ["operator"] };
const reviewer: Principal = { kind: "staff", staffId: "rev1", roles: ["directory.reviewer"] };

/** Every RPC that names a participant the caller acts as. */
const actingAs = [
  ["SendMessage", authorizeSendMessage],
  ["SendMessageStream", authorizeSendMessageStream],
  ["StreamInbox", authorizeStreamInbox],
  ["ReportReceipt", authorizeReportReceipt],
  ["SendTyping", authorizeSendTyping],
  ["ListConversations", authorizeListConversations],
  ["ListMessages", authorizeListMessages],
  ["GetMessage", authorizeGetMessage],
] as const;

describe("authorization per RPC", () => {
  for (const [rpc, authorize] of actingAs) {
    it(`${rpc}: a business number's business, its partner and a service act as it; anyone else is refused`, () => {
      for (const p of [owner, partner, gateway]) expect(() => authorize(p, number, numbers)).not.toThrow();
      for (const p of [otherBusiness, otherPartner, anaHerself, operator, reviewer]) expect(() => authorize(p, number, numbers)).toThrow(NotYours);
      expect(() => authorize(owner, { kind: "business", id: "pn_unknown" }, numbers)).toThrow(NotFound);
    });

    it(`${rpc}: a customer acts only as itself (and a service as anyone)`, () => {
      for (const p of [anaHerself, gateway]) expect(() => authorize(p, ana, numbers)).not.toThrow();
      for (const p of [bob, owner, partner, operator]) expect(() => authorize(p, ana, numbers)).toThrow(NotYours);
    });
  }

  it("SendMessage: only a service's sends follow the service content rules (system messages)", () => {
    expect(authorizeSendMessage(owner, number, numbers)).toBe("business");
    expect(authorizeSendMessage(anaHerself, ana, numbers)).toBe("customer");
    expect(authorizeSendMessage(gateway, number, numbers)).toBe("service");
  });

  it("StreamInbox: answers the inbox key of the participant", () => {
    expect(authorizeStreamInbox(anaHerself, ana, numbers)).toBe("c_ana");
    expect(authorizeStreamInbox(owner, number, numbers)).toBe("b_pn_1");
  });

  it("FailMessage: Kontor services only", () => {
    expect(() => authorizeFailMessage(gateway)).not.toThrow();
    for (const p of [owner, partner, anaHerself, operator]) expect(() => authorizeFailMessage(p)).toThrow(NotYours);
  });

  it("EraseBusinessKey: staff with the operator role only, never a service; answers who erases", () => {
    expect(authorizeEraseBusinessKey(operator)).toBe("staff:op1");
    for (const p of [gateway, owner, partner, anaHerself, reviewer]) expect(() => authorizeEraseBusinessKey(p)).toThrow(NotYours);
  });
});
