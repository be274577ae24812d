import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { demoExposure, type DemoExposure } from "./demoExposure";
import { readHeaderFile } from "./headerFile";
import { ProgressLine, formatBytes, type ProgressOutput } from "./progress";
import type { UploadDirectory } from "@archive/core/names/fileName";
import { UploadFailure, uploadFile, type UploadTarget } from "./upload";

/** The CLI's commands as functions, so tests run them in-process exactly as `npx archive` does. */
export const DEFAULT_API = "http://localhost:3000";

export interface UploadOutcome {
  fileName: string;
  key?: string;
  error?: string;
}

export interface UploadFilesOptions extends UploadTarget {
  directory: UploadDirectory;
  channel?: number;
}

interface NamedBytes {
  name: string;
  bytes: Buffer;
}

async function uploadAll(files: NamedBytes[], options: UploadFilesOptions, output: ProgressOutput): Promise<UploadOutcome[]> {
  const outcomes: UploadOutcome[] = [];
  // One at a time, in the order given: sites send the header text first so the row exists before the pictures.
  for (const file of files) {
    const line = new ProgressLine(output);
    try {
      const key = await uploadFile(
        options,
        { fileName: file.name, bytes: file.bytes, directory: options.directory, ...(options.channel ? { channel: options.channel } : {}) },
        ({ sent, total }) => line.update(file.name, sent, total),
      );
      line.finish(`✓ ${key} (${formatBytes(file.bytes.length)})`);
      outcomes.push({ fileName: file.name, key });
    } catch (error) {
      if (!(error instanceof UploadFailure)) throw error;
      const status = error.status ? `, HTTP ${error.status}` : "";
      line.finish(`✗ ${file.name}: ${error.message} (${error.stage === "presign" ? "asking the API" : "sending to storage"}${status})`);
      outcomes.push({ fileName: file.name, error: error.message });
    }
  }
  return outcomes;
}

/** `archive upload <files…>` */
export async function uploadFiles(paths: string[], options: UploadFilesOptions, output: ProgressOutput): Promise<UploadOutcome[]> {
  const files: NamedBytes[] = [];
  const unreadable: UploadOutcome[] = [];
  for (const path of paths) {
    try {
      files.push({ name: basename(path), bytes: await readFile(path) });
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      output.write(`✗ ${path}: cannot read it (${"code" in error ? String(error.code) : error.message})\n`);
      unreadable.push({ fileName: basename(path), error: error.message });
    }
  }
  return [...unreadable, ...(await uploadAll(files, options, output))];
}

export interface DemoOptions extends UploadTarget {
  site: string;
  count: number;
  /** When the exposures were taken; now by default (the latest one ends now). */
  now?: Date;
}

export interface DemoResult {
  exposures: DemoExposure[];
  outcomes: UploadOutcome[];
}

/** `archive demo`: makes `count` exposures for a site and uploads each one's files. */
export async function uploadDemo(options: DemoOptions, output: ProgressOutput): Promise<DemoResult> {
  const now = options.now ?? new Date();
  // Milliseconds make the counter unique across runs (it wraps after about a day, and the date changes too).
  const firstCounter = now.getTime() % 1e8;
  const exposures: DemoExposure[] = [];
  const outcomes: UploadOutcome[] = [];
  for (let index = 0; index < options.count; index += 1) {
    const exposure = await demoExposure({
      site: options.site,
      counter: firstCounter + index,
      captureTime: new Date(now.getTime() - (options.count - 1 - index) * 90_000),
      seed: firstCounter + index,
    });
    output.write(`exposure ${index + 1}/${options.count}: ${exposure.baseFilename}\n`);
    exposures.push(exposure);
    outcomes.push(...(await uploadAll(exposure.files, { ...options, directory: "data" }, output)));
  }
  return { exposures, outcomes };
}

/** `archive header <file>`: the parsed header as JSON text. */
export async function headerJson(path: string): Promise<string> {
  return JSON.stringify(await readHeaderFile(path), null, 2);
}
