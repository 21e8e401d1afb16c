import { describe, expect, it } from "vitest";
import { standardDetails, toStatus } from "@kontor/service-kit/errors";
import { status } from "@grpc/grpc-js";
import { HOUR_MS, SECOND_MS } from "./clock.js";
import { afterBusinessSend, afterInbound, checkWindow, freeEntryOpen, NO_WINDOW, serviceWindowOpen } from "./window.js";

const T0 = Date.UTC(2026, 0, 10, 9, 30);
const at = (h: number, s = 0) => T0 + h * HOUR_MS + s * SECOND_MS;

describe("the customer service window", () => {
  it("when the customer wrote 23:59:59 ago, then a free-form message is allowed; at 24:00:00 and 24:00:01, refused with 131047", () => {
    const w = afterInbound(NO_WINDOW, T0, false);
    expect(checkWindow(w, at(23, 59 * 60 + 59), false)).toBeUndefined();
    expect(checkWindow(w, at(24) - 1, false)).toBeUndefined();
    for (const when of [at(24), at(24, 1)]) {
      const refusal = checkWindow(w, when, false);
      expect(refusal?.cloudApiCode).toBe(131047);
      expect(refusal?.reason).toBe("OUTSIDE_CUSTOMER_SERVICE_WINDOW");
    }
  });

  it("when the window is closed, then a template still passes this rule", () => {
    const w = afterInbound(NO_WINDOW, T0, false);
    expect(checkWindow(w, at(24, 1), true)).toBeUndefined();
    expect(checkWindow(NO_WINDOW, T0, true)).toBeUndefined();
  });

  it("when the customer never wrote, then a free-form message is refused", () => {
    expect(checkWindow(NO_WINDOW, T0, false)?.cloudApiCode).toBe(131047);
  });

  it("when a later inbound arrives, then the window runs 24 h from it; an older inbound delivered late shrinks nothing", () => {
    let w = afterInbound(NO_WINDOW, T0, false);
    w = afterInbound(w, at(20), false);
    expect(serviceWindowOpen(w, at(24, 1))).toBe(true);
    expect(checkWindow(w, at(44) - 1, false)).toBeUndefined();
    expect(checkWindow(w, at(44), false)?.cloudApiCode).toBe(131047);
    const late = afterInbound(w, at(1), false);
    expect(late).toBe(w);
  });

  it("when a refusal is mapped, then it is FAILED_PRECONDITION with the Cloud API code in the standard details", () => {
    const mapped = toStatus(checkWindow(NO_WINDOW, T0, false));
    expect(mapped.status.code).toBe(status.FAILED_PRECONDITION);
    expect(mapped.reason).toBe("OUTSIDE_CUSTOMER_SERVICE_WINDOW");
    expect(mapped.unexpected).toBe(false);
    expect(standardDetails({ metadata: mapped.status.metadata })?.errorInfo?.metadata.cloud_api_code).toBe("131047");
  });
});

describe("the free entry point of a click-to-chat referral", () => {
  it("when the business first replies within 24 h of the referral, then a 72 h free entry point opens from that reply and ends at its edge", () => {
    let w = afterInbound(NO_WINDOW, T0, true);
    expect(freeEntryOpen(w, T0)).toBe(false);
    w = afterBusinessSend(w, at(2));
    expect(freeEntryOpen(w, at(2))).toBe(true);
    expect(freeEntryOpen(w, at(74) - 1)).toBe(true);
    expect(freeEntryOpen(w, at(74))).toBe(false);
  });

  it("when the first reply comes 24 h after the referral or later, then no free entry point opens", () => {
    const w = afterInbound(NO_WINDOW, T0, true);
    expect(freeEntryOpen(afterBusinessSend(w, at(24)), at(24))).toBe(false);
    expect(freeEntryOpen(afterBusinessSend(w, at(24) - 1), at(24) - 1)).toBe(true);
  });

  it("when later replies follow, then the free entry point keeps the end the first reply gave it", () => {
    let w = afterBusinessSend(afterInbound(NO_WINDOW, T0, true), at(1));
    const opened = w;
    w = afterBusinessSend(w, at(5));
    expect(w).toBe(opened);
    expect(freeEntryOpen(w, at(73) - 1)).toBe(true);
    expect(freeEntryOpen(w, at(73))).toBe(false);
  });

  it("when an inbound has no referral, then replying opens no free entry point", () => {
    const w = afterInbound(NO_WINDOW, T0, false);
    expect(afterBusinessSend(w, at(1))).toBe(w);
  });

  it("when inside the free entry point but past the service window, then free-form is refused (131047) and a template passes", () => {
    const w = afterBusinessSend(afterInbound(NO_WINDOW, T0, true), at(1));
    expect(freeEntryOpen(w, at(30))).toBe(true);
    expect(checkWindow(w, at(30), false)?.cloudApiCode).toBe(131047);
    expect(checkWindow(w, at(30), true)).toBeUndefined();
  });
});
