import { TemplateCategory, TemplateStatus } from "@kontor/proto/messaging/v1/template";
import { NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import { checkTemplateQuality } from "./policy/quality.js";
import type { PricingCategory } from "./policy/pricing.js";
import type { Refusal } from "./policy/refusals.js";
import type { TemplateRecord } from "./templates/template-service.js";

/** Reads templates from the store (the cache's only I/O). */
export interface TemplateLoader {
  /** Every template that can be sent or may become sendable (loaded at start). */
  loadAll(): Promise<TemplateRecord[]>;
  loadOne(businessId: string, name: string, language: string): Promise<TemplateRecord | undefined>;
  loadById(id: string): Promise<TemplateRecord | undefined>;
}

/** Cloud API 132001: the template does not exist in that language, or is not approved. */
export const TEMPLATE_MISSING_CODE = 132001;

export const PRICING_CATEGORY: Readonly<Record<number, PricingCategory>> = {
  [TemplateCategory.TEMPLATE_CATEGORY_MARKETING]: "marketing",
  [TemplateCategory.TEMPLATE_CATEGORY_UTILITY]: "utility",
  [TemplateCategory.TEMPLATE_CATEGORY_AUTHENTICATION]: "authentication",
};

/** How long "no such template" is believed before the store is asked again (another replica may just have created it). */
export const TEMPLATE_MISS_TTL_MS = 1_000;

type Entry = { record: TemplateRecord } | { missingSince: number };

/**
 * Templates per business × name × language in this replica's memory, for
 * the send path: loaded at start, refreshed by the template status events
 * (every change, edits included, is one), and read from the store on a miss
 * (remembered as missing for TEMPLATE_MISS_TTL_MS, so a flood of sends naming
 * an unknown template reads the store once a second, not once a send).
 */
export function createTemplateCache(loader: TemplateLoader, now: () => number = Date.now) {
  const byBusiness = new Map<string, Map<string, Entry>>();
  const keyOf = (name: string, language: string) => `${name}\u0000${language}`;
  const loading = new Map<string, Promise<TemplateRecord | undefined>>();
  /**
   * Changes heard per business × name × language: a load records the count
   * it started at and stores its answer only if nothing was heard since (a
   * slow load must not bring back a deleted template, nor a slow miss hide
   * one just applied).
   */
  const changes = new Map<string, number>();
  const heard = (flightKey: string) => changes.set(flightKey, (changes.get(flightKey) ?? 0) + 1);

  function put(record: TemplateRecord): void {
    let names = byBusiness.get(record.businessId);
    if (!names) byBusiness.set(record.businessId, (names = new Map()));
    const key = keyOf(record.name, record.language);
    const old = names.get(key);
    // A slower load must not undo a newer change.
    if (old && "record" in old && old.record.updatedAt > record.updatedAt) return;
    names.set(key, { record });
  }

  function lookup(businessId: string, name: string, language: string): Entry | undefined {
    return byBusiness.get(businessId)?.get(keyOf(name, language));
  }

  return {
    async loadAll(): Promise<void> {
      for (const r of await loader.loadAll()) put(r);
    },

    /** A template as sendable now, from memory or the store. */
    get(businessId: string, name: string, language: string): TemplateRecord | undefined | Promise<TemplateRecord | undefined> {
      const entry = lookup(businessId, name, language);
      if (entry && "record" in entry) return entry.record;
      if (entry && now() - entry.missingSince < TEMPLATE_MISS_TTL_MS) return undefined;
      const flightKey = `${businessId}\u0000${keyOf(name, language)}`;
      let flight = loading.get(flightKey);
      if (!flight) {
        const startedAt = changes.get(flightKey) ?? 0;
        flight = loader.loadOne(businessId, name, language).then(
          (record) => {
            loading.delete(flightKey);
            if ((changes.get(flightKey) ?? 0) !== startedAt) {
              // Changed meanwhile: memory holds the newer state (or nothing, and the next get reads again).
              const now = lookup(businessId, name, language);
              return now && "record" in now ? now.record : record;
            }
            if (record) put(record);
            else {
              let names = byBusiness.get(businessId);
              if (!names) byBusiness.set(businessId, (names = new Map()));
              names.set(keyOf(name, language), { missingSince: now() });
            }
            return record;
          },
          (err: unknown) => {
            loading.delete(flightKey);
            throw err;
          },
        );
        loading.set(flightKey, flight);
      }
      return flight;
    },

    /** A template changed (its status event): read it again; a deleted one is forgotten. */
    async refresh(templateId: string, businessId: string, name: string, language: string): Promise<void> {
      const record = await loader.loadById(templateId);
      heard(`${businessId}\u0000${keyOf(name, language)}`);
      if (record) put(record);
      else byBusiness.get(businessId)?.delete(keyOf(name, language));
    },

    /** Applies a change this replica made itself (no wait for the event). */
    apply(record: TemplateRecord): void {
      heard(`${record.businessId}\u0000${keyOf(record.name, record.language)}`);
      put(record);
    },

    /** A business's templates held in memory (the quality job's candidates). */
    ofBusiness(businessId: string): TemplateRecord[] {
      const out: TemplateRecord[] = [];
      for (const entry of byBusiness.get(businessId)?.values() ?? []) if ("record" in entry) out.push(entry.record);
      return out;
    },

    size(): number {
      let n = 0;
      for (const names of byBusiness.values()) n += names.size;
      return n;
    },
  };
}

export type TemplateCache = ReturnType<typeof createTemplateCache>;

/**
 * May this template be sent now? APPROVED, or PAUSED past its pause; PAUSED
 * is 132015, DISABLED 132016; missing, pending or rejected is 132001.
 */
export function templateRefusal(t: TemplateRecord | undefined, name: string, language: string, at: number): Refusal | NotFound | undefined {
  if (!t) return new NotFound(`template ${name} in ${language}`, "TEMPLATE_NOT_FOUND", TEMPLATE_MISSING_CODE);
  switch (t.status) {
    case TemplateStatus.TEMPLATE_STATUS_APPROVED:
      return undefined;
    case TemplateStatus.TEMPLATE_STATUS_PAUSED:
      return checkTemplateQuality({ strikes: t.pauseCount, pausedUntil: t.pausedUntil?.getTime() ?? 0, disabled: false }, at);
    case TemplateStatus.TEMPLATE_STATUS_DISABLED:
      return checkTemplateQuality({ strikes: t.pauseCount, pausedUntil: 0, disabled: true }, at);
    default:
      return new PolicyRefused("TEMPLATE_NOT_APPROVED", `template ${name} in ${language} is not approved`, TEMPLATE_MISSING_CODE);
  }
}
