import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // Integration tests start real servers (s3rver, dynalite, Postgres): give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Structured logs of expected failures would drown the report; errors still print.
    env: {
      POWERTOOLS_LOG_LEVEL: "ERROR",
      POWERTOOLS_METRICS_DISABLED: "true",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      // A handler module builds its context from the environment when imported, as in Lambda. Tests bind each
      // module's createHandler to a context of their own; this placeholder only lets the module load (it never connects).
      BUCKET_NAME: "unused-placeholder",
      DATASTREAM_QUEUE_URL: "http://127.0.0.1:9/unused",
      DATABASE_URL: "postgresql://unused@127.0.0.1:9/unused",
    },
    reporters: ["default", "json"],
    outputFile: { json: "test-results/vitest.json" },
  },
});
