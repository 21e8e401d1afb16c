import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { DirectoryServiceClient, type SearchBusinessesRequest } from "@kontor/proto/directory/v1/directory_service";
import type { OpeningHours } from "@kontor/proto/directory/v1/business";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, errorDetail, expectFailure, unaryCall } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createDirectory, type DirectoryApp } from "../src/app.js";
import { distanceKm } from "../src/domain/geo.js";
import { buildRegister } from "./factories.js";

// Monday 2026-11-23 21:30 UTC: 22:30 in Berlin, 18:30 in São Paulo, Tuesday 06:30 in Tokyo.
const NOW = new Date("2026-11-23T21:30:00Z");

let env: TestEnv;
let app: DirectoryApp;
let client: DirectoryServiceClient;
let token: string;
let partner: string;
const ids: Record<string, string> = {};

const day = (weekday: number, open: number, close: number) => ({ weekday, ranges: [{ openMinute: open, closeMinute: close }] });
const hoursIn = (timeZone: string, weekly: OpeningHours["weekly"], exceptions: OpeningHours["exceptions"] = []): OpeningHours => ({ timeZone, weekly, exceptions, alwaysOpen: false });
const at = (latitude: number, longitude: number) => ({ latitude, longitude });
const north = (p: { latitude: number; longitude: number }, km: number) => at(p.latitude + km / 111.19508, p.longitude);

const BERLIN = at(52.52, 13.405);

async function seed(key: string, overrides: Parameters<typeof buildRegister>[0]) {
  const { business } = await unaryCall(client.registerBusiness.bind(client), buildRegister(overrides), { token: partner });
  ids[key] = business!.id;
}

const search = (req: Partial<SearchBusinessesRequest>) =>
  unaryCall(
    client.searchBusinesses.bind(client),
    { query: "", category: "", near: undefined, openNow: false, verifiedOnly: false, language: "", country: "", page: { pageSize: 50, pageToken: "" }, ...req },
    { token },
  );
const names = async (req: Partial<SearchBusinessesRequest>) => (await search(req)).results.map((r) => r.business!.displayName);

beforeAll(async () => {
  env = await createTestEnv();
  app = await createDirectory(loadConfig(env.env()), { clock: () => NOW });
  const { port } = await app.start();
  client = clientFor(DirectoryServiceClient, port);
  token = await env.token({ kind: "customer", customerId: "cust_1" });
  partner = await env.token({ kind: "service", service: "onboarding" });
  const addr = (city: string, p: { latitude: number; longitude: number }) => ({ street: "", city, postalCode: "", region: "", location: p });
  await seed("shivika", { displayName: "Shivika Pottery Gallery", category: "retail.pottery", country: "IN", languages: ["en", "hi"], address: addr("Jaipur", at(26.9124, 75.7873)), hours: hoursIn("Asia/Kolkata", [day(1, 600, 1200)]) });
  await seed("cafe", { displayName: "Café Müller", category: "food.cafe", country: "DE", languages: ["de"], address: addr("Berlin", BERLIN) });
  await seed("baeckerei", { displayName: "Bäckerei Schröder", category: "food.bakery", country: "DE", languages: ["de"], address: addr("Berlin", north(BERLIN, 1)) });
  await seed("padaria", { displayName: "Padaria São Jorge", category: "food.bakery", country: "BR", languages: ["pt-BR"], address: addr("São Paulo", at(-23.55, -46.63)) });
  await seed("panaderia", { displayName: "Panadería García", category: "food.bakery", country: "ES", languages: ["es"], address: addr("Madrid", at(40.4168, -3.7038)) });
  await seed("warung", { displayName: "Warung Bu Sri", category: "food.street_food", country: "ID", languages: ["id"], address: addr("Jakarta", at(-6.2088, 106.8456)) });
  // Geo edge: just inside and just outside 5 km north of Berlin's centre.
  await seed("inside", { displayName: "Randlage Innen Kiosk", category: "food.grocery", address: addr("Berlin", north(BERLIN, 4.99)) });
  await seed("outside", { displayName: "Randlage Aussen Kiosk", category: "food.grocery", address: addr("Berlin", north(BERLIN, 5.01)) });
  // open_now at NOW, each in its own zone.
  await seed("berlinClosed", { displayName: "Zorblax Berlin", hours: hoursIn("Europe/Berlin", [day(1, 540, 1080)]) });
  await seed("saoPauloOpen", { displayName: "Zorblax Paulista", hours: hoursIn("America/Sao_Paulo", [day(1, 540, 1200)]) });
  await seed("saoPauloHoliday", {
    displayName: "Zorblax Feriado",
    hours: hoursIn("America/Sao_Paulo", [day(1, 540, 1200)], [{ date: "2026-11-23", closed: true, ranges: [], note: "Feriado" }]),
  });
  await seed("tokyoOvernight", { displayName: "Zorblax Shinjuku Night", hours: hoursIn("Asia/Tokyo", [day(1, 1320, 1860)]) });
  await seed("tokyoClosedAt6", { displayName: "Zorblax Shibuya Night", hours: hoursIn("Asia/Tokyo", [day(1, 1320, 1800)]) });
  await seed("noHours", { displayName: "Zorblax Unknown Hours", hours: undefined });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

describe("SearchBusinesses text", () => {
  it("when the query has a typo, then trigram correction still finds the business", async () => {
    const res = await search({ query: "pottery galery" });
    expect(res.results[0]?.business?.id).toBe(ids.shivika);
    expect(res.correctedQuery).toBe("pottery gallery");
    expect((await search({ query: "shivka" })).results[0]?.business?.id).toBe(ids.shivika);
  });

  it("when accents are left out or added, then the same businesses match", async () => {
    expect(await names({ query: "Cafe Muller" })).toContain("Café Müller");
    expect(await names({ query: "café müller" })).toContain("Café Müller");
    expect(await names({ query: "backerei schroder" })).toContain("Bäckerei Schröder");
    expect(await names({ query: "padaria sao jorge" })).toContain("Padaria São Jorge");
    expect(await names({ query: "panaderia garcia" })).toContain("Panadería García");
    expect(await names({ query: "warung bu sri" })).toContain("Warung Bu Sri");
  });

  it("when searching a category word in any launch language, then that category's businesses come back", async () => {
    for (const word of ["bakery", "Bäckerei", "padaria", "panadería", "toko roti"]) {
      const found = await names({ query: word });
      expect(found, word).toEqual(expect.arrayContaining(["Bäckerei Schröder", "Padaria São Jorge", "Panadería García"]));
    }
    expect(await names({ query: "bakery", language: "pt" })).toEqual(["Padaria São Jorge"]);
    expect(await names({ query: "bakery", country: "ES" })).toEqual(["Panadería García"]);
  });

  it("when browsing by country or category without words, then only those come back", async () => {
    expect((await names({ country: "BR" })).sort()).toEqual(["Padaria São Jorge"]);
    expect((await names({ category: "food.bakery" })).sort()).toEqual(["Bäckerei Schröder", "Padaria São Jorge", "Panadería García"]);
  });

  it("when the query has only symbols, then nothing matches", async () => {
    expect((await search({ query: "!!! ???" })).results).toEqual([]);
  });
});

describe("SearchBusinesses near", () => {
  it("when a radius is given, then a business 4.99 km away is in and one 5.01 km away is out", async () => {
    const res = await search({ near: { ...BERLIN, radiusKm: 5 }, category: "food.grocery" });
    const found = res.results.map((r) => r.business!.id);
    expect(found).toContain(ids.inside);
    expect(found).not.toContain(ids.outside);
    const inside = res.results.find((r) => r.business!.id === ids.inside)!;
    expect(inside.distanceKm).toBeCloseTo(4.99, 2);
    expect(inside.distanceKm).toBeCloseTo(distanceKm({ lat: BERLIN.latitude, lng: BERLIN.longitude }, { lat: inside.business!.location!.latitude, lng: inside.business!.location!.longitude }), 6);
    const text = await search({ query: "randlage", near: { ...BERLIN, radiusKm: 5 } });
    expect(text.results.map((r) => r.business!.id)).toEqual([ids.inside]);
  });

  it("when near has no radius, then distance ranks: the closer bakery comes first", async () => {
    const res = await search({ query: "bakery", near: { ...BERLIN, radiusKm: 0 } });
    expect(res.results[0]?.business?.id).toBe(ids.baeckerei);
    expect(res.results.length).toBe(3);
  });
});

describe("SearchBusinesses open_now", () => {
  it("when filtering open now, then each business is judged in its own time zone, with holidays and overnight hours", async () => {
    const open = await names({ query: "zorblax", openNow: true });
    expect(open.sort()).toEqual(["Zorblax Paulista", "Zorblax Shinjuku Night"]);
    const all = await search({ query: "zorblax" });
    const flags = Object.fromEntries(all.results.map((r) => [r.business!.displayName, r.openNow]));
    expect(flags).toEqual({
      "Zorblax Berlin": false,
      "Zorblax Paulista": true,
      "Zorblax Feriado": false,
      "Zorblax Shinjuku Night": true,
      "Zorblax Shibuya Night": false,
      "Zorblax Unknown Hours": false,
    });
  });

  it("when open now is asked near a point without words, then the nearest open ones come back", async () => {
    const res = await search({ openNow: true, near: { latitude: 52.5, longitude: 13.42, radiusKm: 1 } });
    expect(res.results.map((r) => r.business!.displayName).sort()).toEqual(["Zorblax Paulista", "Zorblax Shinjuku Night"]);
    expect(res.results.every((r) => r.openNow && r.distanceKm < 1)).toBe(true);
  });

  it("when IsOpen is asked for a later instant, then it answers exactly with the next change", async () => {
    const shinjuku = await unaryCall(client.isOpen.bind(client), { businessId: ids.tokyoOvernight!, at: NOW }, { token });
    expect(shinjuku).toMatchObject({ open: true, hoursKnown: true, timeZone: "Asia/Tokyo", closesAt: new Date("2026-11-23T22:00:00Z") });
    const berlin = await unaryCall(client.isOpen.bind(client), { businessId: ids.berlinClosed!, at: NOW }, { token });
    expect(berlin).toMatchObject({ open: false, nextOpenAt: new Date("2026-11-30T08:00:00Z") });
    const unknown = await unaryCall(client.isOpen.bind(client), { businessId: ids.noHours!, at: undefined }, { token });
    expect(unknown).toMatchObject({ open: false, hoursKnown: false });
  });
});

describe("SearchBusinesses paging", () => {
  it("when businesses register while a customer pages, then every earlier match appears exactly once", async () => {
    const before: string[] = [];
    for (let i = 0; i < 23; i++) {
      const { business } = await unaryCall(client.registerBusiness.bind(client), buildRegister({ displayName: `Quuxberry Deli ${i}`, category: "food.grocery" }), { token: partner });
      before.push(business!.id);
    }
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const res = await search({ query: "quuxberry", page: { pageSize: 5, pageToken } });
      seen.push(...res.results.map((r) => r.business!.id));
      pageToken = res.page?.nextPageToken ?? "";
      pages++;
      // Others register between page requests; some would rank first.
      await Promise.all(
        [0, 1].map((j) =>
          unaryCall(client.registerBusiness.bind(client), buildRegister({ displayName: `Quuxberry Deli Quuxberry late ${pages}-${j}`, category: "food.grocery" }), { token: partner }),
        ),
      );
    } while (pageToken);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...before].sort());
    expect(pages).toBe(5);
    // A fresh search sees the late ones too.
    expect((await search({ query: "quuxberry" })).results.length).toBe(before.length + pages * 2);
  });

  it("when the page token belongs to another query or is garbage, then INVALID_ARGUMENT names page.page_token", async () => {
    const first = await search({ query: "quuxberry", page: { pageSize: 2, pageToken: "" } });
    const err = await expectFailure(
      client.searchBusinesses.bind(client),
      { query: "zorblax", category: "", near: undefined, openNow: false, verifiedOnly: false, language: "", country: "", page: { pageSize: 2, pageToken: first.page!.nextPageToken } },
      { token },
    );
    expect([err.code, errorDetail(err)?.field]).toEqual([status.INVALID_ARGUMENT, "page.page_token"]);
    const bad = await expectFailure(
      client.searchBusinesses.bind(client),
      { query: "", category: "", near: { latitude: 95, longitude: 0, radiusKm: 1 }, openNow: false, verifiedOnly: false, language: "", country: "", page: undefined },
      { token },
    );
    expect([bad.code, errorDetail(bad)?.field]).toEqual([status.INVALID_ARGUMENT, "near.latitude"]);
  });
});

describe("SuggestBusinesses", () => {
  it("when a name prefix is typed, then matching names come back, accents ignored", async () => {
    const s = await unaryCall(client.suggestBusinesses.bind(client), { prefix: "shiv", near: undefined, limit: 5 }, { token });
    expect(s.suggestions[0]?.business?.displayName).toBe("Shivika Pottery Gallery");
    const t = await unaryCall(client.suggestBusinesses.bind(client), { prefix: "backerei schr", near: { ...at(52.5, 13.4), radiusKm: 0 }, limit: 5 }, { token });
    expect(t.suggestions.map((x) => x.business!.displayName)).toEqual(["Bäckerei Schröder"]);
    expect(t.suggestions[0]?.distanceKm).toBeGreaterThan(0);
    const one = await unaryCall(client.suggestBusinesses.bind(client), { prefix: "s", near: undefined, limit: 20 }, { token });
    expect(one.suggestions.length).toBeGreaterThan(0);
    for (const x of one.suggestions) expect(x.business!.displayName).toMatch(/(^|\s)[SsŠš]/);
    const long = await unaryCall(client.suggestBusinesses.bind(client), { prefix: "Schröd", near: undefined, limit: 5 }, { token });
    expect(long.suggestions.map((x) => x.business!.displayName)).toEqual(["Bäckerei Schröder"]);
  });
});
