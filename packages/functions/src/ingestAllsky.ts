import { ingestObject } from "@archive/core/ingest";
import { objectEventHandler } from "./lib/objectEvents";

/** allsky/ uploads: SQS batches of S3 notifications (or direct S3 events) → ingestObject per object. */
export const handler = objectEventHandler(ingestObject);
