import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import { z } from "zod";
import S3Error from "s3rver/lib/models/error.js";
import { logger } from "./log";

/** s3rver's notification, reshaped as real S3 sends it: keys URL-encoded ('+' for a space). */
export interface LocalS3Notification {
  Records: {
    eventVersion: string;
    eventSource: "aws:s3";
    awsRegion: string;
    eventTime: string;
    eventName: string;
    s3: {
      s3SchemaVersion: string;
      bucket: { name: string; arn: string };
      object: { key: string; size?: number; eTag?: string; sequencer: string };
    };
  }[];
}

export interface LocalS3Server {
  endpoint: string;
  bucket: string;
  directory: string;
  /** Every object written through the server's API, as S3 would notify it. Returns an unsubscribe function. */
  onNotification(listener: (notification: LocalS3Notification) => void): () => void;
  close(): Promise<void>;
}

export interface LocalS3Options {
  bucket: string;
  /** Where objects are kept; a fresh temporary directory (removed on close) when not given. */
  directory?: string;
  port?: number;
}

const s3rverEventSchema = z.object({
  Records: z.array(
    z.object({
      eventVersion: z.string(),
      awsRegion: z.string(),
      eventTime: z.string(),
      eventName: z.string(),
      s3: z.object({
        s3SchemaVersion: z.string(),
        bucket: z.object({ name: z.string(), arn: z.string() }),
        object: z.object({
          key: z.string(),
          size: z.number().optional(),
          eTag: z.string().optional(),
          sequencer: z.string(),
        }),
      }),
    }),
  ),
});

/** S3 URL-encodes keys in notifications the way HTML forms do: a space becomes '+'. */
export function encodeS3EventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, "+").replace(/%2F/g, "/");
}

/**
 * s3rver reads the bucket's CORS and website configuration from disk on every request; they change only through
 * their own bucket calls, so they are read once and forgotten when written or deleted.
 */
function cacheBucketConfigurations(store: S3rver["store"]): void {
  const cached = new Map<string, Promise<unknown>>();
  const { getSubresource, putSubresource, deleteSubresource } = store;
  store.getSubresource = (bucket, key, resourceType) => {
    if (key !== undefined) return getSubresource.call(store, bucket, key, resourceType);
    const name = `${bucket}/${resourceType}`;
    let config = cached.get(name);
    if (config === undefined) {
      config = getSubresource.call(store, bucket, key, resourceType);
      cached.set(name, config);
      config.catch(() => cached.delete(name));
    }
    return config;
  };
  store.putSubresource = async (bucket, key, resource) => {
    await putSubresource.call(store, bucket, key, resource);
    if (key === undefined) cached.delete(`${bucket}/${resource.type}`);
  };
  store.deleteSubresource = async (bucket, key, resourceType) => {
    await deleteSubresource.call(store, bucket, key, resourceType);
    if (key === undefined) cached.delete(`${bucket}/${resourceType}`);
  };
}

/**
 * s3rver stores an object as files named by its key's segments plus a suffix ("._S3rver_metadata.json"); a segment
 * longer than the file system's 255-byte names made its write stream fail with no listener, which ended the whole
 * process. S3 itself takes keys of up to 1,024 bytes; the local one refuses what it cannot store, as S3 refuses a key
 * too long for it: KeyTooLongError, a 400, and the archive goes on.
 */
const MAX_FILE_NAME_BYTES = 255;
const LONGEST_S3RVER_SUFFIX = "._S3rver_metadata.json";

export function unstorableKeyReason(key: string): string | undefined {
  const longest = Math.max(...key.split("/").map((segment) => Buffer.byteLength(segment, "utf8")));
  const room = MAX_FILE_NAME_BYTES - LONGEST_S3RVER_SUFFIX.length;
  return longest > room
    ? `the local S3 stores a key as files, and a key segment of ${longest} bytes is longer than the ${room} bytes a file name has room for`
    : undefined;
}

function refuseUnstorableKeys(store: S3rver["store"]): void {
  const { putObject } = store;
  store.putObject = async (object) => {
    const reason = unstorableKeyReason(object.key);
    if (reason !== undefined) {
      logger.warn("refused an object the local S3 cannot store", { key: object.key, reason });
      throw new S3Error("KeyTooLongError", `Your key is too long: ${reason}`);
    }
    return putObject.call(store, object);
  };
}

/** Starts s3rver on 127.0.0.1 (a free port unless given) with the bucket created. */
export async function startS3Server(options: LocalS3Options): Promise<LocalS3Server> {
  const ownsDirectory = options.directory === undefined;
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), "archive-s3-")));
  const server = new S3rver({
    address: "127.0.0.1",
    port: options.port ?? 0,
    silent: true,
    directory,
    vhostBuckets: false,
    allowMismatchedSignatures: true,
    configureBuckets: [{ name: options.bucket }],
  });
  cacheBucketConfigurations(server.store);
  refuseUnstorableKeys(server.store);
  const address = await server.run();
  const listeners = new Set<(notification: LocalS3Notification) => void>();
  server.on("event", (event: unknown) => {
    const parsed = s3rverEventSchema.safeParse(event);
    if (!parsed.success) {
      logger.error("s3rver sent an event of an unknown shape", { issues: parsed.error.issues });
      return;
    }
    const notification: LocalS3Notification = {
      Records: parsed.data.Records.map((record) => ({
        ...record,
        eventSource: "aws:s3",
        s3: { ...record.s3, object: { ...record.s3.object, key: encodeS3EventKey(record.s3.object.key) } },
      })),
    };
    for (const listener of listeners) listener(notification);
  });
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket: options.bucket,
    directory,
    onNotification(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      listeners.clear();
      await server.close();
      if (ownsDirectory) await rm(directory, { recursive: true, force: true });
    },
  };
}
