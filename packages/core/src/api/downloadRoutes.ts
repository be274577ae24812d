import { z } from "zod";
import { downloadUrl, type DownloadFormat } from "../downloads/downloadFile";
import { zipUrl } from "../downloads/zipNight";
import { assertSiteName } from "../names/fileName";
import type { ArchiveContext } from "../platform/context";
import type { RouteHandlers } from "./handleRequest";
import { downloadRequestSchema, parseInput, parseJsonBody, requestedObjectKey } from "./requests";

/** POST /download: the file, and how the user wants it (CONTRACTS.md): a FITS (default), a TIFF, or as stored. */
const downloadBodySchema = downloadRequestSchema.extend({
  image_type: z
    .string()
    .default("fits")
    .transform((type) => type.toLowerCase())
    .pipe(z.string()),
  stretch: z.enum(["arcsinh", "linear"], { errorMap: () => ({ message: "must be arcsinh or linear" }) }).default("arcsinh"),
});

function formatOf(body: z.output<typeof downloadBodySchema>): DownloadFormat {
  if (body.image_type === "tif" || body.image_type === "tiff") return { kind: "tif", stretch: body.stretch };
  if (["fits", "fits.fz", "fz"].includes(body.image_type)) return { kind: "fits" };
  return { kind: "as-is" };
}

/** Whole seconds since the epoch, as a number or its digits. */
const epochSecondsSchema = z
  .union([z.number(), z.string().regex(/^\d+$/, "must be whole seconds since the epoch").transform(Number)], {
    errorMap: () => ({ message: "must be whole seconds since the epoch" }),
  })
  .pipe(z.number().int("must be whole seconds since the epoch").nonnegative());

const zipBodySchema = z.object({
  site: z.string({ required_error: "is required" }),
  start_timestamp_s: epochSecondsSchema,
  end_timestamp_s: epochSecondsSchema,
  fits_size: z
    .string()
    .transform((size) => size.toLowerCase())
    .pipe(z.enum(["small", "large", "best"], { errorMap: () => ({ message: "must be small, large or best" }) })),
});

/** The apiDownload function's routes: conversions and zips, each answered with the URL as a JSON string. */
export const downloadRoutes: RouteHandlers<ArchiveContext> = {
  "POST /download": async (ctx, _params, request) => {
    const body = parseInput(downloadBodySchema, parseJsonBody(request.body));
    return downloadUrl(ctx, requestedObjectKey(body.s3_directory, body.object_name), formatOf(body));
  },
  "POST /downloadzip": async (ctx, _params, request) => {
    const body = parseInput(zipBodySchema, parseJsonBody(request.body));
    return zipUrl(ctx, {
      site: assertSiteName(body.site),
      start: new Date(body.start_timestamp_s * 1000),
      end: new Date(body.end_timestamp_s * 1000),
      fitsSize: body.fits_size,
    });
  },
};
