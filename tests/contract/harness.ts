import { afterAll, beforeAll } from "vitest";
import sharp from "sharp";
import { headerText, type HeaderCard } from "@archive/cli/fitsFile";
import { uploadFile } from "@archive/cli/upload";
import type { UploadDirectory } from "@archive/core/names/fileName";
import { startLocalArchive, type LocalArchive } from "@archive/local/archive";
import { findFreePortRange } from "@archive/local/ports";
import { tempStateDir } from "../e2e/harness";

/**
 * The contract suite's world: the local archive (the same handlers and route table as AWS), seeded the way sites seed
 * production: POST /upload, then the presigned POST of each file. Requests are made as the frontend makes them.
 */
export interface ContractArchive {
  readonly url: string;
  readonly archive: LocalArchive;
}

export function useLocalArchive(): ContractArchive {
  let archive: LocalArchive | undefined;
  let state: Awaited<ReturnType<typeof tempStateDir>> | undefined;
  beforeAll(async () => {
    state = await tempStateDir("contract");
    archive = await startLocalArchive({ port: await findFreePortRange(), stateDir: state.path, ttlIntervalMs: 60_000 });
  });
  afterAll(async () => {
    await archive?.stop();
    await state?.remove();
  });
  return {
    get url() {
      if (!archive) throw new Error("the archive runs from beforeAll on");
      return archive.url;
    },
    get archive() {
      if (!archive) throw new Error("the archive runs from beforeAll on");
      return archive;
    },
  };
}

/** A tiny medium jpg (the archive makes its thumbnail). */
export async function jpg(width = 96, height = 64): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 40, g: 60, b: 90 } } }).jpeg().toBuffer();
}

export interface SeedFile {
  name: string;
  bytes: Buffer;
  directory?: UploadDirectory;
  channel?: 1 | 2 | 3;
}

/** Uploads files as a site script does (no token: the local archive accepts anonymous uploads), then waits for ingestion. */
export async function upload(world: ContractArchive, files: SeedFile[]): Promise<void> {
  for (const file of files) {
    await uploadFile(
      { api: world.url },
      { fileName: file.name, directory: file.directory ?? "data", bytes: file.bytes, ...(file.channel ? { channel: file.channel } : {}) },
    );
  }
  await world.archive.dispatcher.whenIdle(60_000);
  // A medium jpg's thumbnail is a second upload, ingested after the first batch.
  await world.archive.dispatcher.whenIdle(60_000);
}

/** A header text file with these cards (strings quoted, numbers as written). */
export function headerFile(name: string, cards: HeaderCard[]): SeedFile {
  return { name, bytes: Buffer.from(headerText(cards), "latin1") };
}

export interface JsonReply {
  status: number;
  headers: Headers;
  body: unknown;
}

export async function getJson(world: ContractArchive, path: string): Promise<JsonReply> {
  const response = await fetch(`${world.url}${path}`);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? undefined : JSON.parse(text) };
}

export async function postJson(world: ContractArchive, path: string, body: unknown): Promise<JsonReply> {
  const response = await fetch(`${world.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? undefined : JSON.parse(text) };
}

/** A site code no other test uses. */
export function uniqueSite(): string {
  return `c${Math.random().toString(36).slice(2, 7)}`.slice(0, 6);
}
