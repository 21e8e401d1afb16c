import type { Kysely } from "kysely";
import type { AdsDatabase } from "../store/database.js";
import { campaignPage, dayCounts } from "../store/report-store.js";
import type { Campaign } from "./campaign.js";
import { parseDayRange, reportRow, type ReportRow } from "./report.js";

const EXPORT_PAGE = 100;

export function createReportService(db: Kysely<AdsDatabase>) {
  return {
    async campaign(c: Campaign, fromDay: string, toDay: string): Promise<ReportRow[]> {
      const { from, toExclusive } = parseDayRange(fromDay, toDay);
      const currency = c.dailyBudget.currency;
      return (await dayCounts(db, [{ id: c.id, businessId: c.businessId, currency }], from, toExclusive)).map((d) => reportRow(d, currency));
    },

    /** Every campaign-day row of a business, a page of campaigns at a time, so an export of any size streams in bounded memory. */
    async *export(businessId: string, fromDay: string, toDay: string): AsyncGenerator<ReportRow[]> {
      const { from, toExclusive } = parseDayRange(fromDay, toDay);
      let after: string | undefined;
      for (;;) {
        const page = await campaignPage(db, businessId, after, EXPORT_PAGE);
        if (page.length === 0) return;
        const currency = new Map(page.map((c) => [c.id, c.currency]));
        yield (await dayCounts(db, page, from, toExclusive)).map((d) => reportRow(d, currency.get(d.campaignId)!));
        if (page.length < EXPORT_PAGE) return;
        after = page[page.length - 1]!.id;
      }
    },
  };
}

export type ReportService = ReturnType<typeof createReportService>;
