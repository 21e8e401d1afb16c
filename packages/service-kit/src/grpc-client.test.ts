import { describe, expect, it } from "vitest";
import { outgoingDeadline, outgoingMetadata } from "./grpc-client.js";

describe("outgoing calls", () => {
  it("when the incoming call has a nearer deadline, then the downstream call inherits it", () => {
    const near = new Date(Date.now() + 500);
    expect(outgoingDeadline({ ctx: { deadline: near, requestId: "r" }, timeoutMs: 10_000 })).toBe(near);
  });

  it("when the incoming call has no or a later deadline, then the default timeout applies", () => {
    const before = Date.now();
    const d = outgoingDeadline({ ctx: { deadline: undefined, requestId: "r" }, timeoutMs: 2000 }).getTime();
    expect(d).toBeGreaterThanOrEqual(before + 2000);
    const far = new Date(Date.now() + 60_000);
    expect(outgoingDeadline({ ctx: { deadline: far, requestId: "r" }, timeoutMs: 2000 }).getTime()).toBeLessThan(far.getTime());
  });

  it("when calling on behalf of a request, then the request id and token travel in metadata", () => {
    const md = outgoingMetadata({ token: "t0k", ctx: { deadline: undefined, requestId: "req-1" } });
    expect(md.get("authorization")).toEqual(["Bearer t0k"]);
    expect(md.get("x-request-id")).toEqual(["req-1"]);
  });
});
