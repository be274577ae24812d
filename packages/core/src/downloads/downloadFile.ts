import { readFitsHeader } from "../fits/hdus";
import type { UploadObjectKey } from "../names/fileName";
import type { AwsContext } from "../platform/context";
import { NotFoundError } from "../platform/errors";
import { getObjectBytes, putObject, readObjectPrefix } from "../platform/s3";
import { objectExists, presignDownload } from "../platform/presign";
import { plainFitsFromTileCompressed, tiffOfFits } from "./conversions";
import type { TiffStretch } from "./tiff";

/**
 * POST /download: the URL of the file a user asked for (CONTRACTS.md). A `.fits.fz` is served as a plain FITS, a TIFF
 * is made on request, and a `.fits.bz2` that was never uploaded is served from the exposure's `.fits.fz`. Every
 * conversion is made once, under `downloads/` (the bucket expires it after 2 days), and reused while it lasts.
 */
export type DownloadFormat = { kind: "fits" } | { kind: "tif"; stretch: TiffStretch } | { kind: "as-is" };

type DownloadContext = Pick<AwsContext, "s3" | "s3Public" | "config" | "log">;
/** The parts of a requested file's name a download needs. */
type DownloadSource = Pick<UploadObjectKey, "key" | "baseFilename" | "dataType" | "reduction" | "extension" | "compression">;

export async function downloadUrl(ctx: DownloadContext, file: DownloadSource, format: DownloadFormat): Promise<string> {
  const source = await sourceOf(ctx, file, format);
  if (format.kind === "tif") return link(ctx, await ensureTiff(ctx, source, format.stretch));
  if (format.kind === "fits" && isTileCompressed(source)) return link(ctx, await ensurePlainFits(ctx, source));
  return link(ctx, source.key);
}

const link = (ctx: DownloadContext, key: string) => presignDownload(ctx, key, "download");

const isFits = (file: DownloadSource) => file.extension === "fits";
const isTileCompressed = (file: DownloadSource) => isFits(file) && file.compression === "fz";

/** The object to serve or convert: the one asked for, or for a missing `.fits.bz2` the same exposure's `.fits.fz`. */
async function sourceOf(ctx: DownloadContext, file: DownloadSource, format: DownloadFormat): Promise<DownloadSource> {
  if (await objectExists(ctx, file.key)) return file;
  if (format.kind !== "as-is" && isFits(file) && file.compression === "bz2") {
    const fz: DownloadSource = { ...file, compression: "fz", key: file.key.replace(/\.bz2$/i, ".fz") };
    if (await objectExists(ctx, fz.key)) return fz;
  }
  throw new NotFoundError(`no file ${file.key} in the archive`);
}

/** downloads/fits/{base}-{type}{RR}.fits: the image and header of the compressed HDU as one plain HDU. */
async function ensurePlainFits(ctx: DownloadContext, source: DownloadSource): Promise<string> {
  const target = `downloads/fits/${source.baseFilename}-${source.dataType}${source.reduction}.fits`;
  if (await objectExists(ctx, target)) return target;
  const plain = plainFitsFromTileCompressed(await getObjectBytes(ctx, source.key));
  await putObject(ctx, target, plain, "application/fits");
  ctx.log.info("made a plain FITS download", { source: source.key, target, bytes: plain.length });
  return target;
}

/** downloads/tif/{FILTER}-{stretch}-{base}-{type}{RR}.tif.bz2, as the replaced API named it. */
async function ensureTiff(ctx: DownloadContext, source: DownloadSource, stretch: TiffStretch): Promise<string> {
  if (!isFits(source)) throw new NotFoundError(`a TIFF is made from a FITS file, not from ${source.key}`);
  const header = await readObjectPrefix(ctx, source.key, (chunks) => readFitsHeader(chunks, source.compression));
  // The filter names the file, so it is kept to characters that are safe in a key.
  const filter = String(header.cards["FILTER"] ?? "none").trim().replace(/[^A-Za-z0-9_.-]/g, "_") || "none";
  const target = `downloads/tif/${filter}-${stretch}-${source.baseFilename}-${source.dataType}${source.reduction}.tif.bz2`;
  if (await objectExists(ctx, target)) return target;
  const tiff = await tiffOfFits(await getObjectBytes(ctx, source.key), source.compression, stretch);
  await putObject(ctx, target, tiff, "application/x-bzip2");
  ctx.log.info("made a TIFF download", { source: source.key, target, bytes: tiff.length });
  return target;
}
