import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { makePreview } from "@archive/core/previews/fitsPreviews";
import { parsePreviewCheck } from "@archive/core/previews/previewChecks";
import { createArchiveContext } from "@archive/core/platform/archiveContext";
import { configFromEnvironment } from "@archive/core/platform/config";
import type { ArchiveContext } from "@archive/core/platform/context";
import { isRetryable } from "@archive/core/platform/errors";
import { describeError } from "@archive/core/platform/logger";

/** The previews queue's delayed checks: a medium jpg from the FITS image of each exposure that still has none. */
export const createHandler = (ctx: ArchiveContext) =>
  middy<SQSEvent, SQSBatchResponse>()
    .use(injectLambdaContext(ctx.log, { resetKeys: true }))
    .use(logMetrics(ctx.metrics))
    .handler(async (event) => {
      const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
      for (const record of event.Records) {
        try {
          const outcome = await makePreview(ctx, parsePreviewCheck(record.body));
          ctx.log.info("preview check done", { message_id: record.messageId, outcome: outcome.status });
        } catch (error) {
          const retried = isRetryable(error);
          ctx.log[retried ? "error" : "warn"](retried ? "preview check failed; retried" : "preview check rejected", {
            message_id: record.messageId,
            error: describeError(error),
          });
          if (retried) batchItemFailures.push({ itemIdentifier: record.messageId });
        }
      }
      return { batchItemFailures };
    });
export const handler = createHandler(createArchiveContext(configFromEnvironment()));
