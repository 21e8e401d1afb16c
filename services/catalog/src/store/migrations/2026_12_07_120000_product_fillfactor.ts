import { sql, type Kysely } from "kysely";

/**
 * Room on each product page for new row versions: every order and payment
 * rewrites its products' stock columns, and an update that fits on the same
 * page skips the indexes (HOT); one that does not adds entries to every
 * index, the GIN text and category indexes included. Applies to pages
 * written from now on.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // any: migrations are frozen in time and must not depend on today's table types
  await sql`ALTER TABLE product SET (fillfactor = 70)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE product RESET (fillfactor)`.execute(db);
}
