import { createReadStream, existsSync, readFileSync } from "node:fs";
import { readFitsHeader, readHeaderText } from "@archive/core/fits/hdus";
import type { Compression } from "@archive/core/names/fileName";

/**
 * Run by the fault suite in a process of its own, so the peak memory it reports is this read's alone: reads the
 * header of one file as ingestion does (a .txt whole, a FITS file until END) and prints the outcome and the peak RSS.
 */
const [path, kind] = process.argv.slice(2);
if (path === undefined || kind === undefined) throw new Error("usage: readHeader.child.ts <file> <txt|none|bz2|gz|fz>");
const source = createReadStream(path, { highWaterMark: 64 * 1024 });
let outcome: { cards: number } | { refused: string };
try {
  const header = kind === "txt" ? await readHeaderText(source) : await readFitsHeader(source, kind === "none" ? null : (kind as Compression));
  outcome = { cards: Object.keys(header.cards).length };
} catch (error) {
  outcome = { refused: error instanceof Error ? error.message : String(error) };
} finally {
  source.destroy();
}
process.stdout.write(`${JSON.stringify({ ...outcome, peakRssBytes: peakRssBytes() })}\n`);

/**
 * This process's own peak: Linux's VmHWM belongs to the address space exec made. getrusage's maxRSS is carried across
 * exec from the parent that forked it (here a test worker), so it would report the parent's size.
 */
function peakRssBytes(): number {
  const status = existsSync("/proc/self/status") ? readFileSync("/proc/self/status", "utf8") : "";
  const kilobytes = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  return kilobytes === undefined ? process.resourceUsage().maxRSS * 1024 : Number(kilobytes) * 1024;
}
