import { readFileSync } from "node:fs";
import type { CloudFormationCustomResourceEvent } from "aws-lambda";
import { sql } from "kysely";
import { describe, expect, test } from "vitest";
import { parseConfig } from "@archive/core/platform/config";
import { createLogger } from "@archive/core/platform/logger";
import { LATEST_MIGRATION, migrations } from "@archive/core/platform/migrate";
import { createHandler } from "@archive/functions/migrate";
import { useTestDatabase } from "../support/database";
import { lambdaContext } from "../support/objectEvents";
import { createProductionImagesTable } from "../support/replacedService";

/** The deploy's custom resource, as CDK's provider framework hands it to the function (onEvent and isComplete). */
const recordedEvent = JSON.parse(
  readFileSync(new URL("../fixtures/events/cloudformation-schema-create.json", import.meta.url), "utf8"),
) as CloudFormationCustomResourceEvent;
// Its target is the newest migration, as the Database stack asks for (the recording names the newest of its day).
const createEvent: CloudFormationCustomResourceEvent = {
  ...recordedEvent,
  ResourceProperties: { ...recordedEvent.ResourceProperties, Target: LATEST_MIGRATION },
} as CloudFormationCustomResourceEvent;

// The database is given to the handler; the configuration only has to be valid.
const config = parseConfig({
  BUCKET_NAME: "unused",
  DATASTREAM_QUEUE_URL: "http://127.0.0.1:9/unused",
  DATABASE_URL: "postgresql://unused@127.0.0.1:9/unused",
});
const log = createLogger(config);

/** An invocation that has `remainingMs` before Lambda's limit. */
function invocation(remainingMs: number) {
  return { ...lambdaContext("test-data-archive-migrate"), getRemainingTimeInMillis: () => remainingMs };
}

const fresh = useTestDatabase({ migrate: false });
const production = useTestDatabase({ migrate: false });
const untouched = useTestDatabase({ migrate: false });

async function applied(db: typeof fresh.db): Promise<string[]> {
  const exists = await sql<{ found: string | null }>`SELECT to_regclass('kysely_migration')::text AS found`.execute(db);
  if (exists.rows[0]?.found === null) return [];
  return (await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(db)).rows.map((row) => row.name);
}

describe("the Migrate function behind the deploy's custom resource", () => {
  test("a create with time enough migrates to the target and answers complete", async () => {
    // Act
    const answer = await createHandler({ db: fresh.db, log, config })(createEvent, invocation(900_000));

    // Assess
    expect(answer).toEqual({ PhysicalResourceId: "archive-database-schema", IsComplete: true });
    expect(await applied(fresh.db)).toEqual(Object.keys(migrations));
  });

  test("an invocation near its limit answers incomplete, and the provider's next invocations finish the work", async () => {
    // Prepare: production's table; each invocation has a millisecond beyond the time it keeps back
    await createProductionImagesTable(production.db);
    await sql`
      INSERT INTO images (base_filename, site, header)
      SELECT 'sro-kb001ms-20230101-' || lpad(n::text, 8, '0'), 'sro', '{"FILTER": "r"}' FROM generate_series(1, 100) AS n
    `.execute(production.db);
    const handler = createHandler({ db: production.db, log, config });

    // Act
    const answers = [await handler(createEvent, invocation(60_001))];
    while (answers.length < 100 && !answers.at(-1)?.IsComplete) answers.push(await handler(createEvent, invocation(60_001)));

    // Assess
    expect(answers[0]).toEqual({ PhysicalResourceId: "archive-database-schema", IsComplete: false });
    expect(answers.at(-1)).toEqual({ PhysicalResourceId: "archive-database-schema", IsComplete: true });
    expect(await applied(production.db)).toEqual(Object.keys(migrations));
  });

  test("an update asking for a migration already applied (a rollback's) changes nothing", async () => {
    // Prepare
    await createHandler({ db: fresh.db, log, config })(createEvent, invocation(900_000));
    const rollback = {
      ...createEvent,
      RequestType: "Update",
      PhysicalResourceId: "archive-database-schema",
      ResourceProperties: { ...createEvent.ResourceProperties, Target: "2025_01_02_0000_unique_base_filename" },
      OldResourceProperties: createEvent.ResourceProperties,
    } satisfies CloudFormationCustomResourceEvent;

    // Act
    const answer = await createHandler({ db: fresh.db, log, config })(rollback, invocation(900_000));

    // Assess
    expect(answer).toEqual({ PhysicalResourceId: "archive-database-schema", IsComplete: true });
    expect(await applied(fresh.db)).toEqual(Object.keys(migrations));
  });

  test("a target this code does not know fails the invocation, and so the deploy", async () => {
    // Prepare
    const unknown = { ...createEvent, ResourceProperties: { ...createEvent.ResourceProperties, Target: "2099_01_01_0000_later" } };

    // Act
    const answer = createHandler({ db: untouched.db, log, config })(unknown, invocation(900_000));

    // Assess
    await expect(answer).rejects.toThrow(/not a known migration/);
    expect(await applied(untouched.db)).toEqual([]);
  });

  test("deleting the resource leaves the database alone", async () => {
    // Prepare
    const deletion = { ...createEvent, RequestType: "Delete", PhysicalResourceId: "archive-database-schema" } satisfies CloudFormationCustomResourceEvent;

    // Act
    const answer = await createHandler({ db: untouched.db, log, config })(deletion, invocation(900_000));

    // Assess
    expect(answer).toEqual({ PhysicalResourceId: "archive-database-schema", IsComplete: true });
    expect(await applied(untouched.db)).toEqual([]);
  });
});
