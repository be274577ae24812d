import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { z } from "zod";
import { awsClients } from "./aws";
import { loadConfig } from "./config";
import { TransientError } from "./errors";

/** The message the websocket datastreamer forwards to the frontend (the replaced system's shape, kept exactly). */
export const imageNoticeSchema = z.object({
  topic: z.literal("imagedata"),
  site: z.string(),
  data: z.object({
    s3_directory: z.enum(["data", "info-images", "allsky"]),
    base_filename: z.string(),
    site: z.string(),
    channel: z.number().int().min(1).max(3).optional(),
  }),
});
export type ImageNotice = z.infer<typeof imageNoticeSchema>;

export function imageNotice(
  directory: ImageNotice["data"]["s3_directory"],
  site: string,
  baseFilename: string,
  channel?: number,
): ImageNotice {
  return {
    topic: "imagedata",
    site,
    data: { s3_directory: directory, base_filename: baseFilename, site, ...(channel === undefined ? {} : { channel }) },
  };
}

/** Sends a notice to the datastreamer's queue; a failure is transient (the record is retried). */
export async function notify(notice: ImageNotice): Promise<void> {
  try {
    await awsClients().sqs.send(
      new SendMessageCommand({ QueueUrl: loadConfig().DATASTREAM_QUEUE_URL, MessageBody: JSON.stringify(notice) }),
    );
  } catch (error) {
    throw new TransientError(`SQS: cannot notify the datastreamer: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}
