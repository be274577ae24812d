import { z } from "zod";
import { fileFlagColumn, type ArchiveFileName } from "./fileName";

/**
 * The files of an info-image channel or allsky item: `<file>_exists` and `<file>_key` per file, named by the same
 * columns as the `images` table (a large fits of reduction 00 or 01 is `fits_01`), plus the parsed header. One scheme
 * for the ingestion that writes these items and the read API that turns them into links.
 */
export const storedFilesShape = {
  header: z.string().optional(),
  fits_01_exists: z.boolean().optional(),
  fits_01_key: z.string().optional(),
  fits_10_exists: z.boolean().optional(),
  fits_10_key: z.string().optional(),
  jpg_medium_exists: z.boolean().optional(),
  jpg_medium_key: z.string().optional(),
  jpg_small_exists: z.boolean().optional(),
  jpg_small_key: z.string().optional(),
};

/** The attributes that record one arrived file (and its header, from a txt). */
export function storedFileAttributes(file: ArchiveFileName & { key: string }, header?: string): Record<string, string | boolean> {
  const flag = fileFlagColumn(file);
  return {
    ...(flag ? { [flag]: true, [flag.replace(/_exists$/, "_key")]: file.key } : {}),
    ...(header === undefined ? {} : { header }),
  };
}
