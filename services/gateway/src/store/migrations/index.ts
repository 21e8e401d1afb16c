import type { Migration } from "kysely";
import * as createGateway from "./2026_12_05_120000_create_gateway.js";
import * as createMedia from "./2026_12_05_130000_create_media.js";
import * as webhookReplay from "./2026_12_05_140000_webhook_replay.js";

/** Every migration, by its frozen name; order is by name. */
export const migrations: Record<string, Migration> = {
  "2026_12_05_120000_create_gateway": createGateway,
  "2026_12_05_130000_create_media": createMedia,
  "2026_12_05_140000_webhook_replay": webhookReplay,
};
