import { describe, expect, it } from "vitest";
import {
  TemplateCategory,
  TemplateComponentType,
  TemplateHeaderFormat,
  TemplateParameterFormat,
  TemplateStatus,
} from "@kontor/proto/messaging/v1/template";
import { NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import { HOUR_MS } from "./policy/clock.js";
import { createTemplateCache, TEMPLATE_MISS_TTL_MS, templateRefusal, type TemplateLoader } from "./template-cache.js";
import type { TemplateRecord } from "./templates/template-service.js";

const T0 = Date.UTC(2026, 0, 10, 9, 30);

function template(overrides: Partial<TemplateRecord> = {}): TemplateRecord {
  return {
    id: "t1",
    businessId: "b1",
    name: "order_update",
    language: "en",
    category: TemplateCategory.TEMPLATE_CATEGORY_UTILITY,
    previousCategory: TemplateCategory.TEMPLATE_CATEGORY_UNSPECIFIED,
    status: TemplateStatus.TEMPLATE_STATUS_APPROVED,
    parameterFormat: TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_POSITIONAL,
    components: [{ type: TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BODY, format: TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_UNSPECIFIED, text: "Hi {{1}}", example: undefined, buttons: [] }],
    rejectedReason: "",
    pauseCount: 0,
    pausedUntil: undefined,
    approvedEdits: [],
    createdAt: new Date(T0),
    updatedAt: new Date(T0),
    ...overrides,
  };
}

/**
 * The store as a map by id, counting every read. `hold()` makes the next
 * loadOne wait until its release is called (a slow read).
 */
function memoryLoader(...records: TemplateRecord[]) {
  const byId = new Map(records.map((r) => [r.id, r]));
  const calls = { loadAll: 0, loadOne: 0, loadById: 0 };
  let gate: Promise<void> | undefined;
  const loader: TemplateLoader = {
    async loadAll() {
      calls.loadAll++;
      return [...byId.values()];
    },
    async loadOne(businessId, name, language) {
      calls.loadOne++;
      const found = [...byId.values()].find((r) => r.businessId === businessId && r.name === name && r.language === language);
      if (gate) await gate;
      return found;
    },
    async loadById(id) {
      calls.loadById++;
      return byId.get(id);
    },
  };
  return {
    loader,
    calls,
    put: (r: TemplateRecord) => void byId.set(r.id, r),
    remove: (id: string) => void byId.delete(id),
    hold(): () => void {
      let release!: () => void;
      gate = new Promise<void>((r) => (release = r));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

describe("the template cache: reads", () => {
  it("when a template was loaded at start, then get returns it at once and never calls the loader", async () => {
    const store = memoryLoader(template());
    const cache = createTemplateCache(store.loader);
    await cache.loadAll();
    for (let i = 0; i < 3; i++) expect(cache.get("b1", "order_update", "en")).toMatchObject({ id: "t1" });
    expect(store.calls.loadOne).toBe(0);
  });

  it("when a template is not in memory, then concurrent gets share one load, and later gets are answered from memory", async () => {
    const store = memoryLoader(template());
    const cache = createTemplateCache(store.loader);
    const release = store.hold();
    const first = cache.get("b1", "order_update", "en");
    const second = cache.get("b1", "order_update", "en");
    expect(first).toBeInstanceOf(Promise);
    expect(second).toBe(first);
    release();
    expect(await first).toMatchObject({ id: "t1" });
    expect(store.calls.loadOne).toBe(1);
    expect(cache.get("b1", "order_update", "en")).toMatchObject({ id: "t1" });
    expect(store.calls.loadOne).toBe(1);
  });

  it("when a template is missing, then the miss is believed for TEMPLATE_MISS_TTL_MS and the store is asked once after it", async () => {
    let now = T0;
    const store = memoryLoader();
    const cache = createTemplateCache(store.loader, () => now);
    expect(await cache.get("b1", "order_update", "en")).toBeUndefined();
    expect(store.calls.loadOne).toBe(1);

    now = T0 + TEMPLATE_MISS_TTL_MS - 1;
    expect(cache.get("b1", "order_update", "en")).toBeUndefined();
    expect(store.calls.loadOne).toBe(1);

    // Another replica created it meanwhile.
    store.put(template());
    now = T0 + TEMPLATE_MISS_TTL_MS;
    expect(await cache.get("b1", "order_update", "en")).toMatchObject({ id: "t1" });
    expect(store.calls.loadOne).toBe(2);
  });

  it("when templates differ by business or language, then each is its own entry", async () => {
    const store = memoryLoader(template(), template({ id: "t2", language: "de" }), template({ id: "t3", businessId: "b2" }));
    const cache = createTemplateCache(store.loader);
    await cache.loadAll();
    expect(cache.size()).toBe(3);
    expect(cache.get("b1", "order_update", "de")).toMatchObject({ id: "t2" });
    expect(cache.get("b2", "order_update", "en")).toMatchObject({ id: "t3" });
  });
});

describe("the template cache: changes", () => {
  it("when a template's status event arrives, then refresh replaces the record with the stored one", async () => {
    const store = memoryLoader(template());
    const cache = createTemplateCache(store.loader);
    await cache.loadAll();
    store.put(template({ status: TemplateStatus.TEMPLATE_STATUS_PAUSED, updatedAt: new Date(T0 + 1) }));
    await cache.refresh("t1", "b1", "order_update", "en");
    expect(cache.get("b1", "order_update", "en")).toMatchObject({ status: TemplateStatus.TEMPLATE_STATUS_PAUSED });
    expect(store.calls.loadById).toBe(1);
  });

  it("when a template was deleted, then refresh forgets it and the next get asks the store", async () => {
    const store = memoryLoader(template());
    const cache = createTemplateCache(store.loader);
    await cache.loadAll();
    store.remove("t1");
    await cache.refresh("t1", "b1", "order_update", "en");
    expect(cache.size()).toBe(0);
    expect(await cache.get("b1", "order_update", "en")).toBeUndefined();
    expect(store.calls.loadOne).toBe(1);
  });

  it("when a slower load returns an older version than one applied meanwhile, then the newer record stays", async () => {
    const store = memoryLoader(template({ updatedAt: new Date(T0) }));
    const cache = createTemplateCache(store.loader);
    const release = store.hold();
    const slow = cache.get("b1", "order_update", "en");
    cache.apply(template({ status: TemplateStatus.TEMPLATE_STATUS_PAUSED, updatedAt: new Date(T0 + 1) }));
    release();
    await slow;
    expect(cache.get("b1", "order_update", "en")).toMatchObject({ status: TemplateStatus.TEMPLATE_STATUS_PAUSED, updatedAt: new Date(T0 + 1) });
  });

  it("when a newer version arrives after an older one, then it replaces it", async () => {
    const cache = createTemplateCache(memoryLoader().loader);
    cache.apply(template({ updatedAt: new Date(T0) }));
    cache.apply(template({ status: TemplateStatus.TEMPLATE_STATUS_DISABLED, updatedAt: new Date(T0 + 1) }));
    expect(cache.get("b1", "order_update", "en")).toMatchObject({ status: TemplateStatus.TEMPLATE_STATUS_DISABLED });
  });
});

describe("templateRefusal", () => {
  const refusal = (t: TemplateRecord | undefined, at = T0) => {
    const r = templateRefusal(t, "order_update", "en", at);
    return r && { kind: r.constructor.name, reason: r.reason, code: r.cloudApiCode };
  };

  it("when the template is APPROVED, then it may be sent", () => {
    expect(refusal(template())).toBeUndefined();
  });

  it("when the template is PAUSED, then it is refused with 132015 until its pause ends, and sendable from that instant", () => {
    const paused = template({ status: TemplateStatus.TEMPLATE_STATUS_PAUSED, pauseCount: 1, pausedUntil: new Date(T0 + 3 * HOUR_MS) });
    expect(refusal(paused, T0 + 3 * HOUR_MS - 1)).toEqual({ kind: PolicyRefused.name, reason: "TEMPLATE_PAUSED", code: 132015 });
    expect(refusal(paused, T0 + 3 * HOUR_MS)).toBeUndefined();
  });

  it("when the template is DISABLED, then it is refused with 132016", () => {
    expect(refusal(template({ status: TemplateStatus.TEMPLATE_STATUS_DISABLED, pauseCount: 3 }))).toEqual({ kind: PolicyRefused.name, reason: "TEMPLATE_DISABLED", code: 132016 });
  });

  it.each([
    ["PENDING", TemplateStatus.TEMPLATE_STATUS_PENDING],
    ["REJECTED", TemplateStatus.TEMPLATE_STATUS_REJECTED],
  ])("when the template is %s, then it is refused as not approved with 132001", (_, status) => {
    expect(refusal(template({ status }))).toEqual({ kind: PolicyRefused.name, reason: "TEMPLATE_NOT_APPROVED", code: 132001 });
  });

  it("when there is no such template, then it is NOT_FOUND with 132001", () => {
    const r = templateRefusal(undefined, "order_update", "en", T0);
    expect(r).toBeInstanceOf(NotFound);
    expect(r).toMatchObject({ reason: "TEMPLATE_NOT_FOUND", cloudApiCode: 132001 });
  });
});

describe("loads racing changes", () => {
  it("when a template is deleted while a get's load is in flight, then the slow load does not bring it back", async () => {
    const store = memoryLoader(template());
    const cache = createTemplateCache(store.loader);
    const release = store.hold();
    const slow = cache.get("b1", "order_update", "en");
    store.remove("t1");
    await cache.refresh("t1", "b1", "order_update", "en");
    release();
    await slow;
    expect(cache.get("b1", "order_update", "en")).not.toMatchObject({ id: "t1" });
  });

  it("when a template is created while a get's load that found nothing is in flight, then the miss does not hide it", async () => {
    const store = memoryLoader();
    const cache = createTemplateCache(store.loader, () => T0);
    const release = store.hold();
    const slow = cache.get("b1", "order_update", "en");
    cache.apply(template());
    release();
    await slow;
    expect(cache.get("b1", "order_update", "en")).toMatchObject({ id: "t1" });
  });
});
