import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { LocalDiskMediaStore, MediaTooLarge, type MediaStore } from "../src/media/media-store.js";
import { S3MediaStore } from "../src/media/s3-media-store.js";
import { createPartner, graph, startStack, uploadMedia, type Stack } from "./factories.js";

/** s3rver: an S3-protocol server in JavaScript (no types published). */
type S3rverCtor = new (o: Record<string, unknown>) => { run(): Promise<{ address: string; port: number }>; close(): Promise<void> };
const S3rver = createRequire(import.meta.url)("s3rver") as S3rverCtor;

let s3: InstanceType<S3rverCtor>;
let endpoint = "";
let env: TestEnv;
let stack: Stack | undefined;

beforeAll(async () => {
  s3 = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: mkdtempSync(join(tmpdir(), "gateway-s3-")), configureBuckets: [{ name: "media" }] });
  const { port } = await s3.run();
  endpoint = `http://127.0.0.1:${port}`;
  env = await createTestEnv();
});

afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
  await s3?.close();
});

const s3Store = () => new S3MediaStore({ bucket: "media", endpoint, region: "us-east-1", forcePathStyle: true, accessKeyId: "S3RVER", secretAccessKey: "S3RVER", prefix: "t/" });

async function bytesOf(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe.each([
  ["local disk", () => new LocalDiskMediaStore(mkdtempSync(join(tmpdir(), "gateway-media-")))],
  ["S3 (s3rver)", s3Store],
] as const)("the %s media store", (_name, make) => {
  it("when bytes are put, then their size and hash come back, get returns them and delete removes them", async () => {
    const store: MediaStore = make();
    const data = randomBytes(200_000);
    const r = await store.put("biz-1/123", Readable.from([data.subarray(0, 70_000), data.subarray(70_000)]), "image/jpeg", 1_000_000);
    expect(r).toEqual({ size: data.length, sha256: createHash("sha256").update(data).digest("hex") });
    const got = await store.get("biz-1/123");
    expect(got?.size).toBe(data.length);
    expect((await bytesOf(got!.body)).equals(data)).toBe(true);
    await store.delete("biz-1/123");
    expect(await store.get("biz-1/123")).toBeUndefined();
  });

  it("when a stream is over the limit, then MediaTooLarge and nothing is kept", async () => {
    const store: MediaStore = make();
    await expect(store.put("biz-1/124", Readable.from([randomBytes(1000), randomBytes(1000)]), "image/png", 1500)).rejects.toBeInstanceOf(MediaTooLarge);
    expect(await store.get("biz-1/124")).toBeUndefined();
  });

  it("when a key is not the gateway's shape, then it is refused", async () => {
    await expect(make().put("../etc/passwd", Readable.from([Buffer.from("x")]), "text/plain", 10)).rejects.toThrow(/invalid media key/);
  });
});

describe("the gateway on the S3 store", () => {
  it("when media is uploaded, downloaded and deleted through the Cloud API, then the bytes live in the bucket", async () => {
    stack = await startStack(env, { gateway: { MEDIA_STORE: "s3", MEDIA_S3_BUCKET: "media", MEDIA_S3_ENDPOINT: endpoint, MEDIA_S3_ACCESS_KEY_ID: "S3RVER", MEDIA_S3_SECRET_ACCESS_KEY: "S3RVER", MEDIA_S3_PREFIX: "t/" } });
    const p = await createPartner(env, stack);
    const pdf = Buffer.concat([Buffer.from("%PDF-1.4\n"), randomBytes(5000)]);
    const id = await uploadMedia(stack.base, p.token, p.phoneNumberId, pdf, "application/pdf", "terms.pdf");
    const row = await stack.gateway.db.selectFrom("media").select(["storage_key"]).where("id", "=", id).executeTakeFirstOrThrow();
    const inBucket = await s3Store().get(row.storage_key);
    expect((await bytesOf(inBucket!.body)).equals(pdf)).toBe(true);
    const node = await graph(stack.base, "GET", `/v23.0/${id}`, { token: p.token });
    const download = await fetch(node.body.url as string);
    expect(download.headers.get("content-type")).toBe("application/pdf");
    expect(Buffer.from(await download.arrayBuffer()).equals(pdf)).toBe(true);
    expect((await graph(stack.base, "DELETE", `/v23.0/${id}`, { token: p.token })).body).toEqual({ success: true });
    expect(await s3Store().get(row.storage_key)).toBeUndefined();
  });
});
