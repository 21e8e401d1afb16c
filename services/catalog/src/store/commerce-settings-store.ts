import type { Kysely, Selectable } from "kysely";
import type { CommerceSettings, CommerceSettingsChange, CommerceSettingsStorePort } from "../domain/commerce-settings.js";

/** One row per business that changed its settings (migration 2026_12_08_150000). */
export interface CommerceSettingsTable {
  business_id: string;
  is_cart_enabled: boolean;
  is_catalog_visible: boolean;
  updated_at: Date;
}

type Row = Selectable<CommerceSettingsTable>;

const rowToSettings = (r: Row): CommerceSettings => ({ isCartEnabled: r.is_cart_enabled, isCatalogVisible: r.is_catalog_visible, updatedAt: r.updated_at });

/** The settings' store: a read by primary key, and an upsert that changes only the given settings. */
export function createCommerceSettingsStore(anyDb: Kysely<any>): CommerceSettingsStorePort {
  // The table is this file's own: its type stays out of the shared database interface.
  const db = anyDb.withTables<{ commerce_settings: CommerceSettingsTable }>() as unknown as Kysely<{ commerce_settings: CommerceSettingsTable }>;
  return {
    async get(businessId: string): Promise<CommerceSettings | undefined> {
      const row = await db.selectFrom("commerce_settings").selectAll().where("business_id", "=", businessId).executeTakeFirst();
      return row && rowToSettings(row);
    },
    async update(businessId: string, change: CommerceSettingsChange, defaults: CommerceSettings, now: Date): Promise<CommerceSettings> {
      const set: Partial<CommerceSettingsTable> = { updated_at: now };
      if (change.isCartEnabled !== undefined) set.is_cart_enabled = change.isCartEnabled;
      if (change.isCatalogVisible !== undefined) set.is_catalog_visible = change.isCatalogVisible;
      const row = await db
        .insertInto("commerce_settings")
        .values({
          business_id: businessId,
          is_cart_enabled: change.isCartEnabled ?? defaults.isCartEnabled,
          is_catalog_visible: change.isCatalogVisible ?? defaults.isCatalogVisible,
          updated_at: now,
        })
        .onConflict((oc) => oc.column("business_id").doUpdateSet(set))
        .returningAll()
        .executeTakeFirstOrThrow();
      return rowToSettings(row);
    },
  };
}
