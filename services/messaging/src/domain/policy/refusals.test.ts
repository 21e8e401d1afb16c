import { describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { OverLimit, PolicyRefused, standardDetails, toStatus } from "@kontor/service-kit/errors";
import { refuse } from "./refusals.js";

const infoOf = (err: unknown) => standardDetails({ metadata: toStatus(err, "kontor.messaging").status.metadata })?.errorInfo;

describe("policy refusals", () => {
  it("when a rule refuses, then the kit's class gives the gRPC code and the Cloud API code rides in ErrorInfo", () => {
    const cases = [
      [refuse.outsideWindow(), PolicyRefused, status.FAILED_PRECONDITION, "131047"],
      [refuse.marketingOptedOut(), PolicyRefused, status.FAILED_PRECONDITION, "131050"],
      [refuse.marketingNotOptedIn(), PolicyRefused, status.FAILED_PRECONDITION, "131050"],
      [refuse.throughput(12.5), OverLimit, status.RESOURCE_EXHAUSTED, "130429"],
      [refuse.pairRate(6000), OverLimit, status.RESOURCE_EXHAUSTED, "131056"],
      [refuse.messagingLimit("TIER_250", 250), OverLimit, status.RESOURCE_EXHAUSTED, "131048"],
      [refuse.templatePaused(0), PolicyRefused, status.FAILED_PRECONDITION, "132015"],
      [refuse.templateDisabled(), PolicyRefused, status.FAILED_PRECONDITION, "132016"],
    ] as const;
    for (const [err, cls, code, cloud] of cases) {
      expect(err).toBeInstanceOf(cls);
      expect(toStatus(err).status.code).toBe(code);
      const info = infoOf(err);
      expect(info?.domain).toBe("kontor.messaging");
      expect(info?.reason).toBe(err.reason);
      expect(info?.metadata.cloud_api_code).toBe(cloud);
    }
  });

  it("when a limit refuses, then the details say when to retry (whole ms, rounded up)", () => {
    expect(infoOf(refuse.throughput(12.5))?.metadata.retry_after_ms).toBe("13");
    expect(infoOf(refuse.messagingLimit("TIER_2K", 2000))?.metadata.tier).toBe("TIER_2K");
  });

  it("when a refusal is built, then no stack is captured and the process's stack limit is left as it was", () => {
    const before = Error.stackTraceLimit;
    const err = refuse.pairRate(1);
    expect(err.stack?.split("\n").length).toBe(1);
    expect(Error.stackTraceLimit).toBe(before);
  });
});
