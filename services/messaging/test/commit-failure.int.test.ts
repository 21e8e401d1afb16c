import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { errorDetail } from "@kontor/service-kit/errors";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { expectFailure, unaryCall } from "@kontor/testkit/grpc";
import type { MessagingApp } from "../src/app.js";
import { customer, number, registerCustomer, sendReq, startWithBusiness, text, uid, ROUTING_ONLY } from "./factories.js";

let env: TestEnv;
let app: MessagingApp;
let client: MessagingServiceClient;
let bizToken: string;
const phone = "pn_broken";

beforeAll(async () => {
  env = await createTestEnv();
  ({ app, client, bizToken } = await startWithBusiness(env, "biz_broken", phone, ROUTING_ONLY));
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

describe("a group commit that fails", () => {
  for (const [what, sqlstate, code] of [
    ["the connection to the store fails", "08006", status.UNAVAILABLE],
    ["the store fails in a way nobody planned for", "XX000", status.UNAVAILABLE],
    ["the commit loses a race", "40001", status.ABORTED],
  ] as const) {
    it(`when ${what} (SQLSTATE ${sqlstate}), then the send answers ${status[code]}, nothing is stored, and the retry is stored once`, async () => {
      const pool = app.runtime.database.pool;
      const c = uid("cust");
      await registerCustomer(client, await env.token({ kind: "service", service: "onboarding" }), c);
      await pool.query(`CREATE OR REPLACE FUNCTION test_break_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the store broke' USING ERRCODE = '${sqlstate}'; END $$`);
      await pool.query(`CREATE TRIGGER test_break_insert BEFORE INSERT ON message FOR EACH ROW EXECUTE FUNCTION test_break_insert()`);
      const req = sendReq(number(phone), customer(c), text("through a broken store"));
      try {
        const err = await expectFailure(client.sendMessage.bind(client), req, { token: bizToken });
        expect(err.code).toBe(code);
        expect(err.details).not.toMatch(/store broke|SQLSTATE|trigger/);
        if (code === status.UNAVAILABLE) expect(errorDetail(err)?.reason).toBe("UNAVAILABLE");
      } finally {
        await pool.query(`DROP TRIGGER test_break_insert ON message`);
      }
      const stored = await pool.query(`SELECT 1 FROM message m JOIN conversation v ON v.id = m.conversation_id WHERE v.customer_id = $1`, [c]);
      expect(stored.rowCount).toBe(0);
      const retry = await unaryCall(client.sendMessage.bind(client), req, { token: bizToken });
      expect(retry.result?.duplicate).toBe(false);
      expect((await pool.query(`SELECT 1 FROM message m JOIN conversation v ON v.id = m.conversation_id WHERE v.customer_id = $1`, [c])).rowCount).toBe(1);
    });
  }
});
