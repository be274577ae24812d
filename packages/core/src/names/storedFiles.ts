import { z } from "zod";
import { fileFlagColumn, type ArchiveFileName, type FileExtension } from "./fileName";

/**
 * The files of an allsky item: `<file>_exists` and `<file>_key` per file, named by the same columns as the `images`
 * table (a large fits of reduction 00 or 01 is `fits_01`), plus the parsed header. One scheme for the ingestion that
 * writes these items and the read API that turns them into links.
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

/**
 * The files of an info-image channel item, named as the running system names them (its ingester writes them and its
 * read API reads them): `{ext}_{RR}_file_path` = the full key, and a flag: `jpg_medium_exists` (jpg 10),
 * `jpg_small_exists` (jpg 11), `fits_{RR}_exists`, else `other_{ext}_{RR}_exists`. The extension is the first part
 * after the dot, lower-cased (a .fits.bz2 is `fits`); the reduction is the name's own two digits (fits 00 is fits_00).
 */
export function infoFileAttributes(file: { extension: FileExtension; reduction: string; key: string }): Record<string, string | boolean> {
  const { extension, reduction } = file;
  return { [infoFilePath(extension, reduction)]: file.key, [infoFileFlag(extension, reduction)]: true };
}

export const infoFilePath = (extension: FileExtension, reduction: string): string => `${extension}_${reduction}_file_path`;

export function infoFileFlag(extension: FileExtension, reduction: string): string {
  if (extension === "jpg" && reduction === "10") return "jpg_medium_exists";
  if (extension === "jpg" && reduction === "11") return "jpg_small_exists";
  if (extension === "fits") return `fits_${reduction}_exists`;
  return `other_${extension}_${reduction}_exists`;
}

/** What the read API shows of an info-image item: the four files the old read API links, by flag and path. */
export const INFO_IMAGE_LINKS = [
  { flag: "jpg_medium_exists", path: infoFilePath("jpg", "10"), url: "jpg_url" },
  { flag: "jpg_small_exists", path: infoFilePath("jpg", "11"), url: "jpg_small_url" },
  { flag: "fits_01_exists", path: infoFilePath("fits", "01"), url: "fits_01_url" },
  { flag: "fits_10_exists", path: infoFilePath("fits", "10"), url: "fits_10_url" },
] as const;
