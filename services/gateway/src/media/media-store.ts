import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/** Where media bytes live. Keys are the gateway's own (`<business>/<media id>`), never client input. */
export interface MediaStore {
  /** Stores a stream of at most `maxBytes`; returns its size and SHA-256 (hex). Over the limit: MediaTooLarge, nothing kept. */
  put(key: string, body: Readable, contentType: string, maxBytes: number): Promise<{ size: number; sha256: string }>;
  get(key: string): Promise<{ body: Readable; size: number } | undefined>;
  delete(key: string): Promise<void>;
}

export class MediaTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`larger than ${maxBytes} bytes`);
    this.name = "MediaTooLarge";
  }
}

/** Counts and hashes the bytes passing through; fails past `maxBytes`. */
export function meter(maxBytes: number): Transform & { result(): { size: number; sha256: string } } {
  const hash = createHash("sha256");
  let size = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > maxBytes) return done(new MediaTooLarge(maxBytes));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  return Object.assign(t, { result: () => ({ size, sha256: hash.digest("hex") }) });
}

/**
 * Media on a local disk (the default, used by `npm start`): one file per key
 * under `root`, written to a temporary name and renamed, so a crash mid-upload
 * leaves no half file under a real key.
 */
export class LocalDiskMediaStore implements MediaStore {
  private root: string;
  constructor(root: string) {
    this.root = resolve(root);
  }

  private pathOf(key: string): string {
    if (!/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/.test(key)) throw new Error("invalid media key");
    return join(this.root, key);
  }

  async put(key: string, body: Readable, _contentType: string, maxBytes: number) {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${randomBytes(6).toString("hex")}.part`;
    const m = meter(maxBytes);
    try {
      await pipeline(body, m, createWriteStream(tmp));
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return m.result();
  }

  async get(key: string) {
    const path = this.pathOf(key);
    try {
      const { size } = await stat(path);
      return { body: createReadStream(path), size };
    } catch {
      return undefined;
    }
  }

  async delete(key: string) {
    await rm(this.pathOf(key), { force: true });
  }
}
