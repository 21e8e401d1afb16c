import type { ColumnType, Generated, Insertable, Selectable } from "kysely";
import type { OpeningHours } from "../domain/hours.js";

/** Address as stored (jsonb); location lives in lat/lng columns. */
export interface AddressJson {
  street: string;
  city: string;
  postalCode: string;
  region: string;
}

export interface BusinessTable {
  id: string;
  display_name: string;
  legal_name: Generated<string>;
  category: string;
  description: Generated<string>;
  about: Generated<string>;
  address: ColumnType<AddressJson, string, string>;
  lat: number | null;
  lng: number | null;
  country: string;
  languages: Generated<string[]>;
  hours: ColumnType<OpeningHours | null, string | null, string | null>;
  websites: Generated<string[]>;
  email: Generated<string>;
  profile_picture_url: Generated<string>;
  handle: string | null;
  verified: Generated<boolean>;
  verified_name: Generated<string>;
  verified_at: Date | null;
  verification_state: Generated<string>;
  partner_id: string | null;
  registered_by: string;
  version: ColumnType<string, string | undefined, string>;
  created_at: ColumnType<Date, Date | undefined, never>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

export type BusinessRow = Selectable<BusinessTable>;
export type NewBusinessRow = Insertable<BusinessTable>;

export interface BusinessPhoneNumberTable {
  phone_number_id: string;
  business_id: string;
  e164: string;
  display_name: Generated<string>;
  position: Generated<number>;
}

export type PhoneNumberRow = Selectable<BusinessPhoneNumberTable>;

/** The search projection; counters (followers, message volume) live here. */
export interface BusinessSearchTable {
  business_id: string;
  display_name: string;
  doc: string;
  name_doc: string;
  category: string;
  country: string;
  languages: string[];
  city: Generated<string>;
  lat: number | null;
  lng: number | null;
  geo: string | null;
  verified: Generated<boolean>;
  follower_count: Generated<number>;
  message_volume: ColumnType<string, string | undefined, string>;
  popular: ColumnType<boolean, never, never>;
  time_zone: string | null;
  open_week: string | null;
  exc_region: string | null;
  exc_open: string | null;
  created_at: ColumnType<Date, Date | undefined, never>;
}

export interface SearchWordTable {
  word: string;
  n: Generated<number>;
}

export interface CategoryWordTable {
  word: string;
  category: string;
}
