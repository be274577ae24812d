import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import WebSocket from "ws";
import { z } from "zod";

/** What the end-to-end tests share: state directories, a /stream listener, `npm start` as a child process. */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

// The file npm's bin link (node_modules/.bin/archive) points at, named directly so a checkout whose node_modules is
// another checkout's (a worktree) runs its own CLI.
const archiveBin = join(repoRoot, "packages", "cli", "bin", "archive.js");

/** `npx archive …` as a user runs it from the repository root (the bin npm links); its exit code and output. */
export async function runArchiveCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(archiveBin, args, { cwd: repoRoot });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = z.object({ code: z.number(), stdout: z.string(), stderr: z.string() }).safeParse(error);
    if (!failed.success) throw error;
    return failed.data;
  }
}

export async function tempStateDir(label: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `archive-${label}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** A site name no other test uses, so every test owns its rows, log entries and notices. */
export function uniqueSite(): string {
  return `e${Math.random().toString(36).slice(2, 7)}`.slice(0, 6);
}

export const noticeSchema = z.object({
  topic: z.string(),
  site: z.string(),
  data: z.object({ s3_directory: z.string(), base_filename: z.string(), site: z.string(), channel: z.number().optional() }),
});
export type Notice = z.infer<typeof noticeSchema>;
const archivedTopicSchema = z.object({ topic: z.literal("exposure-archived") });

export interface NoticeListener {
  notices: Notice[];
  waitFor(predicate: (notice: Notice) => boolean, timeoutMs?: number): Promise<Notice>;
  close(): void;
}

/** Connects to ws://…/stream (optionally ?site=) and keeps every notice it receives. */
export async function listenForNotices(apiUrl: string, site?: string): Promise<NoticeListener> {
  const url = `${apiUrl.replace(/^http/, "ws")}/stream${site ? `?site=${site}` : ""}`;
  const socket = new WebSocket(url);
  const notices: Notice[] = [];
  const waiters: { predicate: (notice: Notice) => boolean; resolve: (notice: Notice) => void }[] = [];
  socket.on("message", (data: WebSocket.RawData) => {
    const message: unknown = JSON.parse(data.toString());
    // The exposure-archived event shares /stream under its own topic; this listener keeps the notices.
    if (archivedTopicSchema.safeParse(message).success) return;
    const notice = noticeSchema.parse(message);
    notices.push(notice);
    for (const waiter of waiters.filter((candidate) => candidate.predicate(notice))) waiter.resolve(notice);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  return {
    notices,
    waitFor(predicate, timeoutMs = 30_000) {
      const seen = notices.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching notice within ${timeoutMs} ms; got ${JSON.stringify(notices)}`)), timeoutMs);
        waiters.push({
          predicate,
          resolve: (notice) => {
            clearTimeout(timer);
            resolve(notice);
          },
        });
      });
    },
    close: () => socket.close(),
  };
}

const healthSchema = z.object({
  status: z.literal("ok"),
  s3: z.object({ endpoint: z.string(), bucket: z.string(), region: z.string(), accessKeyId: z.string(), secretAccessKey: z.string() }),
  dynamodb: z.object({ endpoint: z.string(), tables: z.record(z.string()) }),
  database: z.enum(["embedded", "postgres"]),
});
export type PublishedHealth = z.infer<typeof healthSchema>;

export async function fetchHealth(apiUrl: string): Promise<PublishedHealth> {
  const response = await fetch(`${apiUrl}/health`);
  return healthSchema.parse(await response.json());
}

/** Whether the bucket /health names holds the key, asked with the credentials /health publishes. */
export async function objectExists(health: PublishedHealth, key: string): Promise<boolean> {
  const s3 = new S3Client({
    endpoint: health.s3.endpoint,
    region: health.s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: health.s3.accessKeyId, secretAccessKey: health.s3.secretAccessKey },
  });
  try {
    await s3.send(new HeadObjectCommand({ Bucket: health.s3.bucket, Key: key }));
    return true;
  } catch (error) {
    if (error instanceof Error && error.name === "NotFound") return false;
    throw error;
  } finally {
    s3.destroy();
  }
}

export interface SpawnedArchive {
  url: string;
  output(): string;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Runs `npm start`'s script as a child process (tsx, as `npm start` does) with the given environment. */
export async function spawnArchive(env: Record<string, string>, startTimeoutMs = 90_000): Promise<SpawnedArchive> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "scripts/local-archive.ts"], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `http://localhost:${env.PORT ?? "3000"}`;
  const deadline = Date.now() + startTimeoutMs;
  while (!output.includes("Local archive running")) {
    const done = await Promise.race([exited.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 100))]);
    if (done) return { url, output: () => output, stop: async () => child.exitCode, exited };
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`npm start did not come up within ${startTimeoutMs} ms:\n${output}`);
    }
  }
  return {
    url,
    output: () => output,
    exited,
    async stop(signal = "SIGINT") {
      child.kill(signal);
      return exited;
    },
  };
}

/** The file names recent-uploads-log holds for a site, one per logged upload (repeats would be duplicates). */
export async function uploadLogFilenames(health: PublishedHealth, site: string): Promise<string[]> {
  const dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: health.dynamodb.endpoint, region: health.s3.region, credentials: { accessKeyId: "x", secretAccessKey: "x" } }),
  );
  try {
    const names: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await dynamo.send(
        new QueryCommand({
          TableName: health.dynamodb.tables["uploadLog"],
          KeyConditionExpression: "site = :site",
          ExpressionAttributeValues: { ":site": site },
          ExclusiveStartKey: startKey,
        }),
      );
      names.push(...(page.Items ?? []).map((item) => String(item["filename"])));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return names;
  } finally {
    dynamo.destroy();
  }
}
