import { TemplateCategory, TemplateStatus } from "@kontor/proto/messaging/v1/template";
import type { Logger } from "@kontor/service-kit/log";
import { HOUR_MS, type Clock } from "./policy/clock.js";
import { templatesToPause, type MarketingTemplateQuality } from "./policy/quality.js";
import type { SendPolicy } from "./send-policy.js";
import type { TemplateRecord } from "./templates/template-service.js";

/** A RED business has its worst marketing templates paused at most once per this long (each pause then runs its course). */
export const PAUSE_ROUND_MS = HOUR_MS;

export interface QualityJobPorts {
  policy: Pick<SendPolicy, "businesses" | "rating" | "templateTotals">;
  templates: { ofBusiness(businessId: string): TemplateRecord[] };
  /** The template use case's quality verdicts (a status change and its event). */
  applyQuality(templateId: string, verdict: "strike" | "unpause", reason: string): Promise<unknown>;
  tiers: { evaluateUpgrades(held: string[], at: number): Promise<{ businessId: string; tier: number }[]> };
  clock: Clock;
  log: Logger;
}

/**
 * Quality's consequences (rule 5), run periodically on every replica:
 * paused templates whose pause ran out are APPROVED again; a business with a
 * RED number has its worst marketing templates paused (quality.ts's
 * templatesToPause; 3 h, 6 h, then DISABLED) and its tier held; the others
 * step up a tier when half their limit was used within 7 days. Replicas may
 * race on a template: a verdict the template's status no longer allows is
 * refused by the use case and skipped here.
 */
export function createQualityJob(ports: QualityJobPorts) {
  const lastRound = new Map<string, number>();

  async function verdict(templateId: string, v: "strike" | "unpause", reason: string): Promise<boolean> {
    try {
      await ports.applyQuality(templateId, v, reason);
      return true;
    } catch (err) {
      ports.log.debug({ err: { message: (err as Error).message }, templateId }, "quality verdict skipped");
      return false;
    }
  }

  return {
    async run(): Promise<{ paused: string[]; unpaused: string[]; upgraded: string[] }> {
      const now = ports.clock.now();
      const paused: string[] = [];
      const unpaused: string[] = [];
      const held: string[] = [];
      for (const [businessId, numbers] of ports.policy.businesses()) {
        const templates = ports.templates.ofBusiness(businessId);
        for (const t of templates) {
          if (t.status === TemplateStatus.TEMPLATE_STATUS_PAUSED && t.pausedUntil && t.pausedUntil.getTime() <= now && (await verdict(t.id, "unpause", "the pause ran out"))) unpaused.push(t.id);
        }
        const red = [...numbers].filter((n) => ports.policy.rating(n) === "RED");
        if (red.length === 0) continue;
        held.push(businessId);
        if (now - (lastRound.get(businessId) ?? -Infinity) < PAUSE_ROUND_MS) continue;
        const candidates: MarketingTemplateQuality[] = templates
          .filter((t) => t.category === TemplateCategory.TEMPLATE_CATEGORY_MARKETING && t.status !== TemplateStatus.TEMPLATE_STATUS_DISABLED)
          .map((t) => ({
            templateId: t.id,
            strikes: { strikes: t.pauseCount, pausedUntil: t.pausedUntil?.getTime() ?? 0, disabled: false },
            totals: ports.policy.templateTotals(t.id),
          }));
        const chosen = templatesToPause("RED", candidates, now);
        if (chosen.length > 0) lastRound.set(businessId, now);
        for (const id of chosen) if (await verdict(id, "strike", `number ${red.join(", ")} is RED: blocks and reports of this template`)) paused.push(id);
      }
      const upgraded = (await ports.tiers.evaluateUpgrades(held, now)).map((u) => u.businessId);
      return { paused, unpaused, upgraded };
    },
  };
}

export type QualityJob = ReturnType<typeof createQualityJob>;
