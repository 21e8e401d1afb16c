import type { BusinessProfile, RegisterBusinessRequest } from "@kontor/proto/directory/v1/directory_service";
import type { OpeningHours } from "@kontor/proto/directory/v1/business";
import { streamMessages as streamed } from "@kontor/testkit/events";
import type { TestEnv } from "@kontor/testkit/env";

let n = 0;

/** A unique E.164 number per call. */
export function phone(): string {
  n += 1;
  return `+4915${String(Date.now() % 1e6).padStart(6, "0")}${String(n).padStart(4, "0")}`;
}

export const weekdayHours = (open: number, close: number, timeZone = "Europe/Berlin"): OpeningHours => ({
  timeZone,
  alwaysOpen: false,
  exceptions: [],
  weekly: [1, 2, 3, 4, 5].map((weekday) => ({ weekday, ranges: [{ openMinute: open, closeMinute: close }] })),
});

export function buildProfile(overrides: Partial<BusinessProfile> = {}): BusinessProfile {
  return {
    displayName: "Töpferei Schröder",
    legalName: "Schröder Keramik GmbH",
    category: "retail.pottery",
    description: "Handgedrehte Keramik aus Berlin",
    about: "Kurse jeden Samstag",
    address: { street: "Oranienstraße 12", city: "Berlin", postalCode: "10999", region: "Berlin", location: { latitude: 52.5, longitude: 13.42 } },
    country: "DE",
    languages: ["de", "en"],
    hours: weekdayHours(540, 1080),
    websites: ["https://toepferei.example"],
    email: "hallo@toepferei.example",
    profilePictureUrl: "https://cdn.example/t.png",
    phoneNumbers: [{ phoneNumberId: "", e164: phone(), displayName: "" }],
    handle: "",
    ...overrides,
  };
}

export function buildRegister(overrides: Partial<BusinessProfile> = {}, businessId = ""): RegisterBusinessRequest {
  return { businessId, profile: buildProfile(overrides) };
}

/** The payloads of this test file's directory stream on one subject (testkit's streamMessages). */
export async function streamMessages(env: TestEnv, subject: string): Promise<Uint8Array[]> {
  return (await streamed(env, "directory", subject)).map((m) => m.data);
}
