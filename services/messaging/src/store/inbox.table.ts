import type { Generated } from "kysely";

/** One row per participant: the last inbox number handed out (allocated under this row's lock). */
export interface InboxTable {
  participant: string;
  last_seq: Generated<string>;
}
