import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { meter, type MediaStore } from "./media-store.js";

export interface S3Options {
  bucket: string;
  /** Empty: AWS's endpoint for the region; else an S3-compatible server (MinIO, Ceph, …). */
  endpoint: string;
  region: string;
  /** Path-style addressing (most S3-compatible servers). */
  forcePathStyle: boolean;
  /** Empty: the SDK's default credential chain (env, IRSA, instance role). */
  accessKeyId: string;
  secretAccessKey: string;
  /** Prefix of every object key. */
  prefix: string;
}

/**
 * Media in an S3 bucket (clusters: every replica sees every upload). An upload
 * is spooled to a local temporary file first, so its size and hash are known
 * and checked against the limit before anything reaches the bucket, and the
 * PUT has a length (no chunked signing, which S3-compatible servers differ on).
 */
export class S3MediaStore implements MediaStore {
  private client: S3Client;
  constructor(private o: S3Options) {
    this.client = new S3Client({
      region: o.region,
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      forcePathStyle: o.forcePathStyle,
      ...(o.accessKeyId ? { credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey } } : {}),
      // Checksums only where S3 requires them: compatible servers do not all take the newer trailers.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  }

  private keyOf(key: string): string {
    if (!/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/.test(key)) throw new Error("invalid media key");
    return `${this.o.prefix}${key}`;
  }

  async put(key: string, body: Readable, contentType: string, maxBytes: number) {
    const dir = join(tmpdir(), "kontor-gateway-media");
    await mkdir(dir, { recursive: true });
    const spool = join(dir, `${randomBytes(8).toString("hex")}.part`);
    const m = meter(maxBytes);
    try {
      await pipeline(body, m, createWriteStream(spool));
      const result = m.result();
      await this.client.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: this.keyOf(key), Body: createReadStream(spool), ContentLength: result.size, ContentType: contentType }));
      return result;
    } finally {
      await rm(spool, { force: true });
    }
  }

  async get(key: string) {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: this.keyOf(key) }));
      if (!r.Body) return undefined;
      return { body: r.Body as Readable, size: Number(r.ContentLength ?? 0) };
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === "NoSuchKey" || name === "NotFound") return undefined;
      throw err;
    }
  }

  async delete(key: string) {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key: this.keyOf(key) }));
  }

  close(): void {
    this.client.destroy();
  }
}
