import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { createPartner, expectGraphError, graph, startStack, type PartnerFixture, type Stack } from "./factories.js";

let env: TestEnv;
let stack: Stack;
let p: PartnerFixture;
let other: PartnerFixture;

// Messaging's cap and the gateway's creation rate lowered from Meta's 250 (6,000 verified; cloud-api.md §4.3) so the test reaches it.
beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env, { messaging: { TEMPLATE_LIMIT: "2" }, gateway: { TEMPLATE_CREATIONS_PER_HOUR: "4" } });
  p = await createPartner(env, stack);
  other = await createPartner(env, stack);
});

afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

const template = (name: string, language = "en_US") => ({
  name,
  language,
  category: "utility",
  components: [{ type: "BODY", text: "Hello {{1}}, thanks.", example: { body_text: [["Ana"]] } }],
});

describe("template cap per WABA", () => {
  it("when a WABA is at its template cap (each language counts), then creating one more is 2388019 Message Template Limit Exceeded (HTTP 400), another WABA is unaffected, and a deletion makes room", async () => {
    const create = (f: PartnerFixture, name: string, language?: string) => graph(stack.base, "POST", `/v23.0/${f.wabaId}/message_templates`, { token: f.token, json: template(name, language) });
    const first = await create(p, "cap_one");
    expect(first.status, first.text).toBe(200);
    expect((await create(p, "cap_one", "de")).status).toBe(200);
    const over = expectGraphError(await create(p, "cap_two"), 2388019, 400);
    expect(over.message).toBe("(#2388019) Message Template Limit Exceeded");
    expect(over.error_data.details).toMatch(/at most 2 templates/);
    expect((await graph(stack.base, "GET", `/v23.0/${p.wabaId}/message_templates?name=cap_two`, { token: p.token })).body.data).toEqual([]);

    expect((await create(other, "cap_two")).status).toBe(200);

    const del = await graph(stack.base, "DELETE", `/v23.0/${p.wabaId}/message_templates?name=cap_one`, { token: p.token });
    expect(del.status, del.text).toBe(200);
    expect((await create(p, "cap_two")).status).toBe(200);
  });

  it("when a WABA made its hourly template creations, then the next is 80007 with the usage header, and another partner's WABA is unaffected", async () => {
    // The test above made four creations on p's WABA (the refused one counts: Meta counts attempts), one on other's.
    const r = await graph(stack.base, "POST", `/v23.0/${p.wabaId}/message_templates`, { token: p.token, json: template("cap_three") });
    expect(expectGraphError(r, 80007, 400).error_data.details).toMatch(/template creations/);
    const res = await fetch(`${stack.base}/v23.0/${p.wabaId}/message_templates`, { method: "POST", headers: { authorization: `Bearer ${p.token}`, "content-type": "application/json" }, body: JSON.stringify(template("cap_four")) });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.headers.get("x-business-use-case-usage") ?? "{}")[p.wabaId]).toBeTruthy();
    const mine = await graph(stack.base, "POST", `/v23.0/${other.wabaId}/message_templates`, { token: other.token, json: template("cap_three") });
    expect(mine.status, mine.text).toBe(200);
  });
});
