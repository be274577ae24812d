import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // Integration tests start real servers (s3rver, dynalite, Postgres): give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Structured logs of expected failures would drown the report; errors still print.
    env: { POWERTOOLS_LOG_LEVEL: "ERROR", POWERTOOLS_METRICS_DISABLED: "true" },
    reporters: ["default", "json"],
    outputFile: { json: "test-results/vitest.json" },
  },
});
