import { PolicyRefused } from "@kontor/service-kit/errors";

/** A business's commerce settings (the Cloud API's whatsapp_commerce_settings, cloud-api.md §8.1). */
export interface CommerceSettings {
  /** Customers may fill a cart and check out. */
  isCartEnabled: boolean;
  /** The catalog shows on the business's chat and profile. */
  isCatalogVisible: boolean;
  /** Undefined while never changed. */
  updatedAt: Date | undefined;
}

/** The Cloud API's defaults: cart enabled, storefront hidden. */
export const DEFAULT_COMMERCE_SETTINGS: CommerceSettings = Object.freeze({ isCartEnabled: true, isCatalogVisible: false, updatedAt: undefined });

/** The settings an update names; the others keep their value. */
export interface CommerceSettingsChange {
  isCartEnabled?: boolean;
  isCatalogVisible?: boolean;
}

export interface CommerceSettingsStorePort {
  get(businessId: string): Promise<CommerceSettings | undefined>;
  /** Stores the change over the stored settings (or the defaults) and answers the result. */
  update(businessId: string, change: CommerceSettingsChange, defaults: CommerceSettings, now: Date): Promise<CommerceSettings>;
}

/** Why a cart call is refused while the business has its cart disabled (FAILED_PRECONDITION). */
export const CART_DISABLED = "CART_DISABLED";

/** The settings use case; carts ask it before adding or checking out. */
export function createCommerceSettingsService(ports: { store: CommerceSettingsStorePort; now: () => Date }) {
  const { store } = ports;
  const get = async (businessId: string): Promise<CommerceSettings> => (await store.get(businessId)) ?? DEFAULT_COMMERCE_SETTINGS;
  return {
    get,
    update: (businessId: string, change: CommerceSettingsChange): Promise<CommerceSettings> => store.update(businessId, change, DEFAULT_COMMERCE_SETTINGS, ports.now()),
    /** Throws CART_DISABLED when the business turned its cart off. */
    async requireCart(businessId: string): Promise<void> {
      if (!(await get(businessId)).isCartEnabled) throw new PolicyRefused(CART_DISABLED, "the business has disabled its cart");
    },
  };
}

export type CommerceSettingsService = ReturnType<typeof createCommerceSettingsService>;
