import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { z } from "zod";
import type { ExposureFiles } from "../exposures/imageStore";
import { fileFlagColumn, type ArchiveObjectKey } from "../names/fileName";
import type { AwsContext } from "../platform/context";
import { InvalidInputError, TransientError } from "../platform/errors";

/**
 * The delayed preview check a FITS file's arrival schedules (the data/ pipeline's part of previews; the check itself
 * is fitsPreviews.ts, kept apart so the ingest function bundles neither the FITS decoder nor the stretch).
 */

/** The previews queue's message: which exposure to check, and the FITS file whose arrival scheduled it. */
export const previewCheckSchema = z.object({ base_filename: z.string().min(1), fits_key: z.string().min(1) });
export type PreviewCheck = z.infer<typeof previewCheckSchema>;

/** A previews queue message body; not a check is bad input. */
export function parsePreviewCheck(body: string): PreviewCheck {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new InvalidInputError("a preview check is not JSON", "body");
  }
  const parsed = previewCheckSchema.safeParse(json);
  if (!parsed.success) throw new InvalidInputError(`not a preview check: ${parsed.error.issues[0]?.message ?? ""}`, "body");
  return parsed.data;
}

/** A FITS file with a flag: the small (reduction 10/13) or the large (00/01) one. */
export function isFits(file: Pick<ArchiveObjectKey, "extension" | "reduction">): boolean {
  const flag = fileFlagColumn(file);
  return flag === "fits_01_exists" || flag === "fits_10_exists";
}

/**
 * Whether a FITS file's arrival schedules its exposure's check, from what the row knew before it: previews are on,
 * no medium jpg yet, and the other FITS file (small or large) has not come (its arrival scheduled the check). A
 * redelivery of the first one schedules again, so a send lost with a failed delivery is sent by its retry.
 */
export function schedulesPreviewCheck(ctx: Pick<AwsContext, "config">, file: ArchiveObjectKey, known: ExposureFiles | undefined): boolean {
  if (!ctx.config.PREVIEWS_QUEUE_URL || !isFits(file)) return false;
  if (!known) return true;
  const other = fileFlagColumn(file) === "fits_10_exists" ? known.fits01 : known.fits10;
  return !known.mediumJpg && !other;
}

/** Puts the exposure's check on the previews queue, visible after the delay; a failure is transient (retried). */
export async function schedulePreviewCheck(ctx: Pick<AwsContext, "config" | "sqs" | "log">, file: ArchiveObjectKey): Promise<void> {
  const queueUrl = ctx.config.PREVIEWS_QUEUE_URL;
  if (!queueUrl) return;
  const check: PreviewCheck = { base_filename: file.baseFilename, fits_key: file.key };
  try {
    await ctx.sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(check), DelaySeconds: ctx.config.FITS_PREVIEW_DELAY_SECONDS }),
    );
  } catch (error) {
    throw new TransientError(`SQS: cannot schedule the preview check: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  ctx.log.info("preview check scheduled", { delay_seconds: ctx.config.FITS_PREVIEW_DELAY_SECONDS });
}
