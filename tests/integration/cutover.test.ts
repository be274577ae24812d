import { sql } from "kysely";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { findImage } from "@archive/core/exposures/imageQueries";
import type { ArchiveContext } from "@archive/core/platform/context";
import { migrateToLatest } from "@archive/core/platform/migrate";
import { createDatabase } from "@archive/core/platform/postgres";
import { createHandler } from "@archive/functions/ingestData";
import { useTestDatabase } from "../support/database";
import { eventBridgeEvent, lambdaContext, putObject, sqsBatchOfEventBridge, type StoredObject } from "../support/objectEvents";
import { useServices } from "../support/services";

// Beside the old service: S3 events through EventBridge, and shadow mode (its own schema, no notices).

const database = useTestDatabase();
const services = useServices({ database });
const SHADOW_SCHEMA = "archive_shadow";

async function uploadJpg(ctx: ArchiveContext, base: string): Promise<StoredObject> {
  const jpg = await sharp({ create: { width: 300, height: 200, channels: 3, background: "#3060a0" } }).jpeg().toBuffer();
  return putObject(ctx, `data/${base}-EX10.jpg`, jpg);
}

function noticesFor(base: string): unknown[] {
  return services.sqs
    .messages(services.queueUrl)
    .map((message): unknown => JSON.parse(message.body))
    .filter((notice) => JSON.stringify(notice).includes(`"base_filename":"${base}"`));
}

describe("data/ objects announced through EventBridge", () => {
  test("an exposure's jpg whose EventBridge event arrives through SQS gets its row and one notice", async () => {
    // Prepare
    const base = "sro-kb001ms-20220629-00040001";
    const jpg = await uploadJpg(services.ctx, base);

    // Act
    const response = await createHandler(services.ctx)(sqsBatchOfEventBridge([jpg]), lambdaContext());

    // Assess
    expect(response?.batchItemFailures).toEqual([]);
    expect(await findImage(database.db, base)).toMatchObject({ base_filename: base, jpg_medium_exists: true });
    expect(noticesFor(base)).toEqual([{ topic: "imagedata", site: "sro", data: { s3_directory: "data", base_filename: base, site: "sro" } }]);
  });

  test("an EventBridge event invoking the function directly is ingested the same way", async () => {
    // Prepare
    const base = "sro-kb001ms-20220629-00040002";
    const jpg = await uploadJpg(services.ctx, base);

    // Act
    await createHandler(services.ctx)(eventBridgeEvent(jpg), lambdaContext());

    // Assess
    expect(await findImage(database.db, base)).toMatchObject({ jpg_medium_exists: true });
    expect(noticesFor(base)).toHaveLength(1);
  });
});

// PGlite ignores a connection's startup options (search_path among them): the schema is proven on a real server.
describe.runIf(process.env.TEST_DATABASE_URL)("shadow mode: its own Postgres schema, and no notices", () => {
  let shadow: ArchiveContext;

  beforeAll(async () => {
    const settings = services.contextWith({ DATABASE_SCHEMA: SHADOW_SCHEMA, SEND_NOTICES: "false" });
    // Built as a handler module builds it: the pool from the configuration, its search_path the shadow schema.
    shadow = { ...settings, db: createDatabase(settings.config, settings.log) };
    await migrateToLatest(shadow.db, shadow.log, SHADOW_SCHEMA);
  });

  afterAll(async () => {
    await shadow.db.destroy();
  });

  test("migrating creates the shadow schema with its own images table and migration history", async () => {
    // Act
    const rows = await sql<{ table_name: string }>`
      SELECT table_name FROM information_schema.tables WHERE table_schema = ${SHADOW_SCHEMA}
    `.execute(database.db);

    // Assess
    expect(rows.rows.map((row) => row.table_name)).toEqual(expect.arrayContaining(["images", "kysely_migration"]));
  });

  test("an exposure processed in shadow mode is written to the shadow schema only, and announced to no one", async () => {
    // Prepare
    const base = "sro-kb001ms-20220629-00040003";
    const jpg = await uploadJpg(shadow, base);

    // Act
    const response = await createHandler(shadow)(sqsBatchOfEventBridge([jpg]), lambdaContext());

    // Assess
    expect(response?.batchItemFailures).toEqual([]);
    expect(await findImage(shadow.db, base)).toMatchObject({ base_filename: base, jpg_medium_exists: true });
    const live = await sql<{ n: number }>`SELECT count(*) AS n FROM public.images WHERE base_filename = ${base}`.execute(database.db);
    expect(live.rows).toEqual([{ n: 0 }]);
    expect(noticesFor(base)).toEqual([]);
  });

  test("a redelivered event in shadow mode is finished, as it would be with notices on: no second processing", async () => {
    // Prepare
    const base = "sro-kb001ms-20220629-00040004";
    const jpg = await uploadJpg(shadow, base);
    const handler = createHandler(shadow);
    await handler(sqsBatchOfEventBridge([jpg]), lambdaContext());
    await shadow.db.updateTable("images").set({ jpg_medium_exists: false }).where("base_filename", "=", base).execute();

    // Act
    await handler(sqsBatchOfEventBridge([jpg]), lambdaContext());

    // Assess: the redelivery did nothing, so the row keeps the change made after the first delivery
    expect(await findImage(shadow.db, base)).toMatchObject({ jpg_medium_exists: false });
    expect(noticesFor(base)).toEqual([]);
  });
});
