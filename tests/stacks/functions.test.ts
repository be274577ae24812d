import type { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { configSchema } from "../../packages/core/src/platform/config";
import { synthesizeStage, type StackName } from "./synthesize";
import { lambdaFunction } from "./templates";

let templates: Record<StackName, Template>;

beforeAll(async () => {
  templates = (await synthesizeStage("test")).templates;
});

const archiveFunctions: [StackName, string][] = [
  ["Ingest", "IngestData"],
  ["Ingest", "IngestInfoImages"],
  ["Ingest", "IngestAllsky"],
  ["Ingest", "ExpireData"],
  ["Ingest", "SweepExpirations"],
  ["Database", "Migrate"],
  ["Operations", "CountCounterGaps"],
  ["Operations", "ReconcileObjects"],
  ["Api", "ApiUpload"],
  ["Api", "ApiReads"],
  ["Api", "ApiDownload"],
  ["Api", "ApiOperations"],
  ["Api", "Authorizer"],
];

/** Variables SST and the Node runtime add to every function; everything else must be an archive setting. */
const PLATFORM_VARIABLES = ["AWS_NODEJS_CONNECTION_REUSE_ENABLED", "SST_APP", "SST_STAGE", "SST_SSM_PREFIX"];

function variables(stack: StackName, id: string): Record<string, unknown> {
  return z.object({ Variables: z.record(z.unknown()) }).parse(lambdaFunction(templates[stack], id)["Environment"]).Variables;
}

describe("every archive function", () => {
  it.each(archiveFunctions)("%s/%s gets only configSchema variables, including every required one", (stack, id) => {
    const env = variables(stack, id);
    const settings = Object.keys(configSchema.shape);
    for (const name of Object.keys(env)) {
      expect([...settings, ...PLATFORM_VARIABLES], name).toContain(name);
    }
    const required = Object.entries(configSchema.shape)
      .filter(([, schema]) => !schema.isOptional())
      .map(([name]) => name);
    for (const name of [...required, "DATABASE_SECRET_ARN"]) expect(env, name).toHaveProperty(name);
    expect(env["DATABASE_POOL_SIZE"]).toBe("1");
    expect(env["ALLOW_ANONYMOUS_UPLOADS"]).toBe("false");
    expect(env["THUMBNAIL_HEIGHT"]).toBe("128");
    // A stage not in shadow mode: the live schema, and notices on.
    expect(env["DATABASE_SCHEMA"]).toBe("public");
    expect(env["SEND_NOTICES"]).toBe("true");
  });

  it.each(archiveFunctions)("%s/%s runs nodejs22.x on arm64 without X-Ray", (stack, id) => {
    const fn = lambdaFunction(templates[stack], id);
    expect(fn).toMatchObject({ Runtime: "nodejs22.x", Architectures: ["arm64"] });
    expect(fn["TracingConfig"]).toBeUndefined();
  });
});
