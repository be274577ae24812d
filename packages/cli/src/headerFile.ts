import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { parseHeaderText } from "@archive/core/fits/cards";
import { readFitsHeader } from "@archive/core/fits/hdus";
import type { FitsHeader } from "@archive/core/fits/header";
import type { Compression } from "@archive/core/names/fileName";

/** `archive header <file>`: the archive's own header reader on a local file, chosen by the file's extension. */
export async function readHeaderFile(path: string): Promise<FitsHeader> {
  const name = basename(path).toLowerCase();
  if (name.endsWith(".txt")) return parseHeaderText(await readFile(path));
  const compression = fitsCompression(name);
  if (compression === undefined) {
    throw new RangeError(`${basename(path)}: expected a .txt, .fits, .fits.bz2, .fits.gz or .fits.fz file`);
  }
  return readFitsHeader(createReadStream(path), compression);
}

function fitsCompression(name: string): Compression | undefined {
  if (name.endsWith(".fits") || name.endsWith(".fit")) return null;
  if (name.endsWith(".fits.bz2")) return "bz2";
  if (name.endsWith(".fits.gz")) return "gz";
  if (name.endsWith(".fits.fz") || name.endsWith(".fz")) return "fz";
  return undefined;
}
