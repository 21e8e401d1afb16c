import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { DirectoryServiceClient, VerificationState } from "@kontor/proto/directory/v1/directory_service";
import { BusinessRegistered, BusinessUpdated } from "@kontor/proto/directory/v1/events";
import type { Principal } from "@kontor/service-kit/auth";
import { outboxDrained } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { checkHealth, clientFor, errorDetail, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createDirectory, type DirectoryApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { buildProfile, buildRegister, phone, streamMessages } from "./factories.js";

let env: TestEnv;
let app: DirectoryApp;
let port: number;
let client: DirectoryServiceClient;
let partner: string;

beforeAll(async () => {
  env = await createTestEnv();
  app = await createDirectory(loadConfig(env.env()));
  ({ port } = await app.start());
  client = clientFor(DirectoryServiceClient, port);
  partner = await env.token({ kind: "partner", partnerId: "bsp_1", businessIds: [] });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

const register = (req = buildRegister(), token = partner) => unaryCall(client.registerBusiness.bind(client), req, { token });

describe("health", () => {
  it("when started, then grpc.health.v1 answers SERVING for the server and the service", async () => {
    expect(await checkHealth(`127.0.0.1:${port}`)).toBe("SERVING");
    expect(await checkHealth(`127.0.0.1:${port}`, "kontor.directory.v1.DirectoryService")).toBe("SERVING");
  });
});

describe("RegisterBusiness", () => {
  it("when a partner registers a business, then it is stored, numbers get ids and BusinessRegistered reaches NATS once", async () => {
    const { business } = await register(buildRegister({ handle: "toepferei.schroeder" }));
    expect(business?.id).toMatch(/^biz_[a-z0-9]{14}$/);
    expect(business?.profile?.displayName).toBe("Töpferei Schröder");
    expect(business?.profile?.phoneNumbers[0]?.phoneNumberId).toMatch(/^\d{15}$/);
    expect(business?.verificationState).toBe(VerificationState.VERIFICATION_STATE_UNVERIFIED);
    expect(business?.version).toBe("1");

    const got = await unaryCall(client.getBusiness.bind(client), { businessId: business!.id }, { token: partner });
    expect(got.business?.profile).toEqual(business?.profile);

    await outboxDrained(app.runtime.database.pool);
    const events = (await streamMessages(env, subjects.businessRegistered)).map((d) => BusinessRegistered.decode(d)).filter((e) => e.business?.businessId === business!.id);
    expect(events).toHaveLength(1);
    expect(events[0]?.meta?.businessId).toBe(business!.id);
    expect(events[0]?.business?.phoneNumbers[0]?.e164).toBe(business?.profile?.phoneNumbers[0]?.e164);
    expect(events[0]?.business?.hours?.timeZone).toBe("Europe/Berlin");
    expect(events[0]?.business?.version).toBe("1");
  });

  it("when onboarding or an operator registers, then it works; customers, businesses, other services and staff without the role may not", async () => {
    const principals: Principal[] = [{ kind: "service", service: "onboarding" }, { kind: "staff", staffId: "s1", roles: ["operator"] }];
    for (const p of principals) {
      const { business } = await register(buildRegister({ displayName: `Bäckerei ${p.kind}` }), await env.token(p));
      expect(business?.id).toBeTruthy();
    }
    const refused: Principal[] = [
      { kind: "customer", customerId: "c1" },
      { kind: "business", businessId: "biz_x" },
      { kind: "service", service: "messaging" },
      { kind: "staff", staffId: "s2", roles: ["support"] },
    ];
    for (const p of refused) {
      const err = await expectFailure(client.registerBusiness.bind(client), buildRegister(), { token: await env.token(p) });
      expect(err.code).toBe(status.PERMISSION_DENIED);
    }
  });

  it("when a field is bad, then INVALID_ARGUMENT names it and nothing is stored", async () => {
    const cases: [Partial<Parameters<typeof buildProfile>[0]>, string][] = [
      [{ websites: ["not a url"] }, "profile.websites[0]"],
      [{ phoneNumbers: [{ phoneNumberId: "", e164: "030 1234567", displayName: "" }] }, "profile.phone_numbers[0].e164"],
      [{ category: "retail.dragons" }, "profile.category"],
      [
        {
          hours: {
            timeZone: "Europe/Berlin",
            alwaysOpen: false,
            exceptions: [],
            weekly: [{ weekday: 1, ranges: [{ openMinute: 540, closeMinute: 780 }, { openMinute: 720, closeMinute: 1080 }] }],
          },
        },
        "profile.hours.weekly[0].ranges[1]",
      ],
      [{ hours: { timeZone: "Europe/Atlantis", alwaysOpen: true, exceptions: [], weekly: [] } }, "profile.hours.time_zone"],
    ];
    for (const [overrides, field] of cases) {
      const req = buildRegister(overrides, `biz_bad_${field.replace(/[^a-z]/g, "")}`.slice(0, 60));
      const err = await expectFailure(client.registerBusiness.bind(client), req, { token: partner });
      expect([err.code, errorDetail(err)?.field]).toEqual([status.INVALID_ARGUMENT, field]);
      const missing = await expectFailure(client.getBusiness.bind(client), { businessId: req.businessId }, { token: partner });
      expect(missing.code).toBe(status.NOT_FOUND);
    }
  });

  it("when the id, handle or a number is taken, then ALREADY_EXISTS names the field", async () => {
    const first = buildRegister({ handle: "taken.handle" }, "biz_taken");
    await register(first);
    const again = await expectFailure(client.registerBusiness.bind(client), buildRegister({}, "biz_taken"), { token: partner });
    expect([again.code, errorDetail(again)?.field]).toEqual([status.ALREADY_EXISTS, "business_id"]);
    const handle = await expectFailure(client.registerBusiness.bind(client), buildRegister({ handle: "Taken.Handle" }), { token: partner });
    expect([handle.code, errorDetail(handle)?.field]).toEqual([status.ALREADY_EXISTS, "profile.handle"]);
    const number = await expectFailure(client.registerBusiness.bind(client), buildRegister({ phoneNumbers: [{ phoneNumberId: "", e164: phone(), displayName: "" }, first.profile!.phoneNumbers[0]!] }), {
      token: partner,
    });
    expect([number.code, errorDetail(number)?.field]).toEqual([status.ALREADY_EXISTS, "profile.phone_numbers[1].e164"]);
  });
});

describe("UpdateBusiness", () => {
  it("when the business updates masked fields, then only those change, the version moves and BusinessUpdated lists them", async () => {
    const { business } = await register();
    const owner = await env.token({ kind: "business", businessId: business!.id });
    const keptNumber = business!.profile!.phoneNumbers[0]!;
    const extra = phone();
    const { business: updated } = await unaryCall(
      client.updateBusiness.bind(client),
      {
        businessId: business!.id,
        profile: buildProfile({ about: "Neue Kurse", displayName: "ignored", phoneNumbers: [{ ...keptNumber, phoneNumberId: "" }, { phoneNumberId: "", e164: extra, displayName: "Laden" }] }),
        updateMask: ["about", "phone_numbers"],
        expectedVersion: "1",
      },
      { token: owner },
    );
    expect(updated?.profile?.about).toBe("Neue Kurse");
    expect(updated?.profile?.displayName).toBe("Töpferei Schröder");
    expect(updated?.version).toBe("2");
    expect(updated?.profile?.phoneNumbers[0]?.phoneNumberId).toBe(keptNumber.phoneNumberId);
    expect(updated?.profile?.phoneNumbers[1]?.e164).toBe(extra);

    const events = await waitFor(async () => {
      const all = (await streamMessages(env, subjects.businessUpdated)).map((d) => BusinessUpdated.decode(d)).filter((e) => e.business?.businessId === business!.id);
      return all.length > 0 ? all : undefined;
    });
    expect(events[0]?.changedFields).toEqual(["about", "phone_numbers"]);
    expect(events[0]?.business?.version).toBe("2");

    const byNumber = await unaryCall(client.lookupBusiness.bind(client), { key: { $case: "phoneNumber", value: extra } }, { token: owner });
    expect(byNumber.business?.id).toBe(business!.id);
    expect(byNumber.phoneNumber?.displayName).toBe("Laden");
  });

  it("when another business or an unrelated partner edits, then PERMISSION_DENIED and nothing changes", async () => {
    const { business } = await register();
    const intruders: Principal[] = [
      { kind: "business", businessId: "biz_other" },
      { kind: "partner", partnerId: "bsp_2", businessIds: [] },
      { kind: "customer", customerId: "c1" },
    ];
    for (const p of intruders) {
      const err = await expectFailure(
        client.updateBusiness.bind(client),
        { businessId: business!.id, profile: buildProfile({ about: "hacked" }), updateMask: ["about"], expectedVersion: "0" },
        { token: await env.token(p) },
      );
      expect(err.code).toBe(status.PERMISSION_DENIED);
    }
    // The partner that registered it may.
    const ok = await unaryCall(
      client.updateBusiness.bind(client),
      { businessId: business!.id, profile: buildProfile({ about: "by partner" }), updateMask: ["about"], expectedVersion: "0" },
      { token: partner },
    );
    expect(ok.business?.profile?.about).toBe("by partner");
  });

  it("when the version is stale, the mask unknown or the result invalid, then the right error and no change", async () => {
    const { business } = await register();
    const owner = await env.token({ kind: "business", businessId: business!.id });
    const update = (mask: string[], profile = buildProfile(), expectedVersion = "0") =>
      expectFailure(client.updateBusiness.bind(client), { businessId: business!.id, profile, updateMask: mask, expectedVersion }, { token: owner });
    expect((await update(["about"], buildProfile(), "7")).code).toBe(status.ABORTED);
    const unknown = await update(["about", "owner_id"]);
    expect([unknown.code, errorDetail(unknown)?.field]).toEqual([status.INVALID_ARGUMENT, "update_mask.paths[1]"]);
    const bad = await update(["email"], buildProfile({ email: "not-an-email" }));
    expect([bad.code, errorDetail(bad)?.field]).toEqual([status.INVALID_ARGUMENT, "profile.email"]);
    const after = await unaryCall(client.getBusiness.bind(client), { businessId: business!.id }, { token: owner });
    expect(after.business?.version).toBe("1");
  });
});

describe("ListCategories and LookupBusiness", () => {
  it("when listing categories, then the fixed taxonomy comes back", async () => {
    const { categories } = await unaryCall(client.listCategories.bind(client), {}, { token: partner });
    expect(categories.map((c) => c.code)).toContain("retail.pottery");
    expect(categories.length).toBeGreaterThanOrEqual(40);
  });

  it("when looking up an unknown number or handle, then NOT_FOUND", async () => {
    const err = await expectFailure(client.lookupBusiness.bind(client), { key: { $case: "handle", value: "nobody.here" } }, { token: partner });
    expect(err.code).toBe(status.NOT_FOUND);
  });
});
