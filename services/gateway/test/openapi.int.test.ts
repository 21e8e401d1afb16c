import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { startStack, type Stack } from "./factories.js";

let env: TestEnv;
let stack: Stack;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
});

afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

describe("the API's description", () => {
  it("when /openapi.json is fetched without a token, then it is OpenAPI 3.1 with every Cloud API operation and its schemas", async () => {
    const res = await fetch(`${stack.base}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const doc = (await res.json()) as { openapi: string; servers: { url: string }[]; paths: Record<string, Record<string, any>> };
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers[0]!.url).toBe(stack.base);
    for (const [path, method] of [
      ["/{id}/messages", "post"],
      ["/{id}/message_templates", "get"],
      ["/{id}/message_templates", "post"],
      ["/{id}/media", "post"],
      ["/{id}", "get"],
      ["/{id}", "post"],
      ["/{id}", "delete"],
      ["/{id}/subscribed_apps", "post"],
      ["/{id}/webhook_dead_letters", "get"],
    ] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    }
    const send = doc.paths["/{id}/messages"]!.post;
    expect(send.requestBody.content["application/json"].schema.properties.messaging_product).toEqual({ type: "string", enum: ["whatsapp"] });
    expect(send.parameters).toContainEqual(expect.objectContaining({ name: "id", in: "path", required: true }));
    expect(doc.paths["/{id}/media"]!.post.requestBody.content["multipart/form-data"]).toBeDefined();
    expect(doc.paths["/openapi.json"]).toBeUndefined();
    // The versioned path works as well.
    expect((await fetch(`${stack.base}/v23.0/openapi.json`)).status).toBe(200);
  });

  it("when /docs is opened, then a self-contained page reads openapi.json", async () => {
    const res = await fetch(`${stack.base}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('fetch("openapi.json")');
    expect(html).not.toMatch(/<script src=/);
  });
});
