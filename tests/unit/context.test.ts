import { S3Client } from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createArchiveContext } from "@archive/core/platform/archiveContext";
import { parseConfig } from "@archive/core/platform/config";
import { closeClients, createAwsContext } from "@archive/core/platform/context";

const config = parseConfig({
  BUCKET_NAME: "context-test-bucket",
  DATASTREAM_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/datastreamIncomingQueue-test",
  DATABASE_URL: "postgresql://postgres@127.0.0.1:1/never-connected",
});

/** Every SDK client's destroy() ends in the shared smithy Client's; watching it shows which clients were built. */
function watchDestroyedClients() {
  const base: unknown = Object.getPrototypeOf(S3Client.prototype);
  if (typeof base !== "object" || base === null || !("destroy" in base)) throw new Error("S3Client has no base client");
  return vi.spyOn(base as { destroy: () => void }, "destroy");
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the context's SDK clients", () => {
  it("a new context builds no client, so closing it destroys none", () => {
    // Prepare
    const destroyed = watchDestroyedClients();
    const ctx = createAwsContext(config);

    // Act
    closeClients(ctx);

    // Assess
    expect(destroyed).not.toHaveBeenCalled();
  });

  it("a client is built on first use, once, and closing destroys only that one", () => {
    // Prepare
    const destroyed = watchDestroyedClients();
    const ctx = createAwsContext(config);

    // Act
    const s3 = ctx.s3;
    const again = ctx.s3;
    const publicS3 = ctx.s3Public;
    closeClients(ctx);

    // Assess
    expect(again).toBe(s3);
    expect(publicS3, "same endpoint, same client").toBe(s3);
    expect(destroyed).toHaveBeenCalledTimes(1);
    expect(destroyed.mock.contexts[0]).toBe(s3);
  });

  it("an archive context keeps the clients unbuilt until used", async () => {
    // Prepare
    const destroyed = watchDestroyedClients();
    const ctx = createArchiveContext(config);

    // Act
    closeClients(ctx);
    const sqs = ctx.sqs;
    closeClients(ctx);

    // Assess
    expect(destroyed).toHaveBeenCalledTimes(1);
    expect(destroyed.mock.contexts[0]).toBe(sqs);
    await ctx.db.destroy();
  });
});
