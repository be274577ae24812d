import { createHash } from "node:crypto";
import { PassThrough, Readable } from "node:stream";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { ZipFile } from "yazl";
import { exposuresWithFits, type FitsSize } from "../exposures/imageQueries";
import type { ImageRow } from "../exposures/imagesTable";
import type { ArchiveContext } from "../platform/context";
import { NotFoundError, TransientError } from "../platform/errors";
import { objectExists, presignDownload } from "../platform/presign";

/**
 * POST /downloadzip: one zip of a site's FITS files captured in a time range, streamed from S3 into a multipart
 * upload (one object at a time, never the whole zip in memory), then linked. The zip's name carries a digest of its
 * members, so a repeated request for the same files reuses it and a night that gained files gets a new one.
 */
export interface ZipRequest {
  site: string;
  start: Date;
  end: Date;
  fitsSize: FitsSize;
}

/** Multipart parts of 16 MiB, 2 at a time: ~32 MiB of buffers whatever the zip's size. */
const PART_SIZE = 16 * 1024 * 1024;
const QUEUE_SIZE = 2;

/** The FITS file of an exposure that a zip of `size` holds, as the replaced API chose it. */
export function zipMemberKey(row: ImageRow, size: FitsSize): string | undefined {
  const small = `data/${row.base_filename}-${row.data_type}10.fits.fz`;
  const large = `data/${row.base_filename}-${row.data_type}01.fits.fz`;
  if (size === "small") return row.fits_10_exists === true ? small : undefined;
  if (size === "large") return row.fits_01_exists === true ? large : undefined;
  return row.fits_01_exists === true ? large : row.fits_10_exists === true ? small : undefined;
}

export async function zipUrl(ctx: ArchiveContext, request: ZipRequest): Promise<string> {
  const rows = await exposuresWithFits(ctx.db, request.site, request.start, request.end, request.fitsSize);
  const members = rows.flatMap((row) => zipMemberKey(row, request.fitsSize) ?? []);
  if (members.length === 0) throw new NotFoundError(`no FITS files of site ${request.site} in that time range`);
  const digest = createHash("sha256").update(members.join("\n")).digest("hex").slice(0, 16);
  const range = `${Math.floor(request.start.getTime() / 1000)}-${Math.floor(request.end.getTime() / 1000)}`;
  const target = `downloads/zip/${request.site}-${range}-${request.fitsSize}-${digest}.zip`;
  if (!(await objectExists(ctx, target))) await writeZip(ctx, members, target);
  return presignDownload(ctx, target, "download");
}

async function writeZip(ctx: ArchiveContext, members: string[], target: string): Promise<void> {
  const zip = new ZipFile();
  for (const key of members) {
    // Each member is fetched when the zip reaches it: one S3 stream open at a time.
    zip.addReadStreamLazy(key.slice(key.indexOf("/") + 1), { compress: false }, (done) => {
      openObject(ctx, key).then(
        (stream) => done(null, stream),
        (error: unknown) => done(error instanceof Error ? error : new Error(String(error)), new PassThrough()),
      );
    });
  }
  zip.end();
  const upload = new Upload({
    client: ctx.s3,
    params: { Bucket: ctx.config.BUCKET_NAME, Key: target, Body: Readable.from(zip.outputStream), ContentType: "application/zip" },
    partSize: PART_SIZE,
    queueSize: QUEUE_SIZE,
  });
  try {
    await upload.done();
  } catch (error) {
    throw new TransientError(`could not write the zip ${target}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  ctx.log.info("made a zip download", { target, members: members.length });
}

async function openObject(ctx: ArchiveContext, key: string): Promise<Readable> {
  const response = await ctx.s3.send(new GetObjectCommand({ Bucket: ctx.config.BUCKET_NAME, Key: key }));
  if (!(response.Body instanceof Readable)) throw new TransientError(`S3 gave no stream for ${key}`);
  return response.Body;
}
