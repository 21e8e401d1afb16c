import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DirectoryServiceService } from "@kontor/proto/directory/v1/directory_service";
import { allowListViolations } from "@kontor/testkit/access";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { loadConfig } from "../src/config.js";
import { createDirectory, type DirectoryApp } from "../src/app.js";
import { directoryAccess } from "../src/rpc/access.js";

let env: TestEnv;
let app: DirectoryApp;
let port: number;

beforeAll(async () => {
  env = await createTestEnv();
  app = await createDirectory(loadConfig(env.env()));
  ({ port } = await app.start());
});

afterAll(async () => {
  await app?.stop();
  await env?.cleanup();
});

describe("the access table", () => {
  it("when every principal kind, staff role and service calls every RPC, then only the callers on the RPC's list get past the allow-list", async () => {
    expect(await allowListViolations(env, DirectoryServiceService, directoryAccess, `127.0.0.1:${port}`)).toEqual([]);
  });

  it("when a service calls, then it reaches only what it is for: no service decides verification, only onboarding registers", () => {
    expect(directoryAccess.DecideVerification).toEqual(["staff:directory.reviewer"]);
    expect(directoryAccess.RegisterBusiness.filter((c) => c.startsWith("service:"))).toEqual(["service:onboarding"]);
  });
});
