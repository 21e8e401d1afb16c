import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status, type ServiceError } from "@grpc/grpc-js";
import { MessagingServiceService, type MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { SERVICE_NAMES } from "@kontor/service-kit/access";
import { allowListViolations } from "@kontor/testkit/access";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { authMetadata, errorDetail, expectFailure } from "@kontor/testkit/grpc";
import type { MessagingApp } from "../src/app.js";
import { messagingAccess } from "../src/rpc/access.js";
import { startWithBusiness } from "./factories.js";

let env: TestEnv;
let app: MessagingApp;
let port: number;
let client: MessagingServiceClient;
const business = "biz_access";
const phoneNumberId = "pn_access";

beforeAll(async () => {
  env = await createTestEnv();
  ({ app, client, port } = await startWithBusiness(env, business, phoneNumberId));
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

const refusedByAllowList = (err: ServiceError) => [err.code, errorDetail(err)?.reason];

describe("the access table", () => {
  it("when every principal kind, staff role and service calls every RPC, then only the callers on the RPC's list get past the allow-list", async () => {
    expect(await allowListViolations(env, MessagingServiceService, messagingAccess, `127.0.0.1:${port}`)).toEqual([]);
  });

  it("when directory's service token asks for a business's inbox or its messages, then PERMISSION_DENIED before any handler", async () => {
    const token = await env.token({ kind: "service", service: "directory" });
    const participant = { kind: { $case: "phoneNumberId" as const, value: phoneNumberId } };
    // The deadline only bounds a stream that was wrongly admitted (it would stay open); a refusal comes at once.
    const stream = client.streamInbox({ participant, resumeCursor: "" }, authMetadata(token), { deadline: Date.now() + 10_000 });
    const err = await new Promise<ServiceError>((resolve) => stream.on("error", resolve));
    expect(refusedByAllowList(err)).toEqual([status.PERMISSION_DENIED, "CALLER_NOT_ALLOWED"]);
    expect(err.details).toBe("StreamInbox may not be called by service:directory");
    const list = await expectFailure(client.listMessages.bind(client), { participant, conversationId: "00000000-0000-4000-8000-000000000000", newestFirst: false, page: undefined }, { token });
    expect(refusedByAllowList(list)).toEqual([status.PERMISSION_DENIED, "CALLER_NOT_ALLOWED"]);
  });

  it("when any service token, or staff without the operator role, asks to erase a business's key, then PERMISSION_DENIED", async () => {
    const callers = [
      ...SERVICE_NAMES.map((service) => env.token({ kind: "service", service })),
      env.token({ kind: "staff", staffId: "support_1", roles: ["support", "directory.reviewer"] }),
      env.token({ kind: "business", businessId: business }),
    ];
    for (const token of await Promise.all(callers)) {
      const err = await expectFailure(client.eraseBusinessKey.bind(client), { businessId: business, reason: "a leaked token tries it" }, { token });
      expect(refusedByAllowList(err)).toEqual([status.PERMISSION_DENIED, "CALLER_NOT_ALLOWED"]);
    }
    expect(messagingAccess.EraseBusinessKey).toEqual(["staff:operator"]);
  });
});
