export interface CartItem {
  productId: string;
  retailerId: string;
  name: string;
  quantity: number;
  unitPriceMinor: bigint;
  lineTotalMinor: bigint;
  purchasable: boolean;
}

export interface Cart {
  id: string;
  businessId: string;
  customerId: string;
  catalogId: string;
  currency: string;
  items: CartItem[];
  subtotalMinor: bigint;
  updatedAt: Date;
}

