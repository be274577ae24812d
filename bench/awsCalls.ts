import type { Kysely } from "kysely";
import pg from "pg";
import sharp from "sharp";
import type { Database } from "@archive/core/exposures/imagesTable";
import { createArchiveContext } from "@archive/core/platform/archiveContext";
import { parseConfig } from "@archive/core/platform/config";
import { closeClients, type AwsContext } from "@archive/core/platform/context";
import { migrateToLatest } from "@archive/core/platform/migrate";
import { createDb } from "@archive/core/platform/postgres";
import { getObjectBytes } from "@archive/core/platform/s3";
import { tables, type TableName } from "@archive/core/platform/tables";
import { exposurePipeline } from "@archive/core/exposures/ingestExposure";
import { objectEventHandler } from "@archive/functions/lib/objectEvents";
import { startDynamoServer } from "@archive/local/dynamoServer";
import { startEmbeddedPostgres } from "@archive/local/embeddedPostgres";
import { startS3Server } from "@archive/local/s3Server";
import { startSqsServer } from "@archive/local/sqsServer";
import { lambdaContext, missingObject, putObject, sqsBatchOf, type StoredObject } from "../tests/support/objectEvents";
import { smallFitsBz2 } from "./fitsFile";
import { atMost, row, stats, type Row } from "./harness";
import { loadHeaderText, loadJpgs } from "./inputs";
import type { BenchOptions } from "./suite";

const CALLS_DATABASE = "archive_bench_calls";
const BUCKET = "archive-bench-calls";
/** Besides the file's own GET and the thumbnail's PUT (issue 15). */
const OVERHEAD_TARGET = 5;
/**
 * Measured with this bench on the code before issue 15 (a HEAD, and the delivery record, notice claim and notice record
 * as three writes): all calls, and those besides the file's own GET and the thumbnail's PUT.
 */
const BEFORE: Readonly<Record<string, readonly [all: number, overhead: number]>> = {
  "header .txt": [7, 6],
  "medium .jpg": [8, 6],
  "thumbnail's own event (.jpg, reduction 11)": [6, 6],
  ".fits.fz, header already stored": [6, 6],
  ".fits.bz2, header already stored": [6, 6],
  ".fits.bz2, no header yet (read from the file)": [7, 6],
  "expiring type (EP) .fits.fz": [7, 7],
};

/** Calls by "Service Command", counted by a middleware on the context's own SDK clients while `counting` is on. */
class CallCounter {
  private counting = false;
  private calls = new Map<string, number>();

  constructor(ctx: AwsContext) {
    // Initialize runs once per send, before retries: a call, however many attempts it takes.
    const options = { step: "initialize", name: "benchCallCounter" } as const;
    ctx.s3.middlewareStack.add(this.middleware(), options);
    if (ctx.s3Public !== ctx.s3) ctx.s3Public.middlewareStack.add(this.middleware(), options);
    ctx.dynamo.middlewareStack.add(this.middleware(), options);
    ctx.sqs.middlewareStack.add(this.middleware(), options);
  }

  private middleware<A, R>() {
    return (next: (args: A) => Promise<R>, context: { clientName?: string; commandName?: string }) =>
      (args: A): Promise<R> => {
        if (this.counting) {
          const name = `${(context.clientName ?? "?").replace(/Client$/, "")} ${(context.commandName ?? "?").replace(/Command$/, "")}`;
          this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
        }
        return next(args);
      };
  }

  async during(work: () => Promise<unknown>): Promise<Map<string, number>> {
    this.calls = new Map();
    this.counting = true;
    try {
      await work();
    } finally {
      this.counting = false;
    }
    return this.calls;
  }
}

const total = (calls: ReadonlyMap<string, number>, only: (name: string) => boolean = () => true): number =>
  [...calls].filter(([name]) => only(name)).reduce((sum, [, n]) => sum + n, 0);

/** The file's own GET and the thumbnail's PUT are the data; everything else is the cost of ingesting it. */
const isOverhead = (name: string): boolean => name !== "S3 GetObject" && name !== "S3 PutObject";

const describeCalls = (calls: ReadonlyMap<string, number>): string =>
  [...calls]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, n]) => (n === 1 ? name : `${name} ×${n}`))
    .join(", ");

/** Postgres for the data/ pipeline: a fresh database on BENCH_DATABASE_URL's server, else embedded PGlite. */
async function benchDatabase(): Promise<{ url: string; label: string; stop(): Promise<void> }> {
  const serverUrl = process.env.BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
  const admin = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (error) {
    console.error(`PostgreSQL unreachable (${error instanceof Error ? error.message : String(error)}): embedded Postgres`);
    const embedded = await startEmbeddedPostgres();
    return { url: embedded.url, label: "embedded Postgres (PGlite)", stop: () => embedded.stop() };
  }
  await admin.query(`DROP DATABASE IF EXISTS ${CALLS_DATABASE} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${CALLS_DATABASE}`);
  const url = new URL(serverUrl);
  url.pathname = `/${CALLS_DATABASE}`;
  return {
    url: url.toString(),
    label: "PostgreSQL",
    async stop() {
      await admin.query(`DROP DATABASE IF EXISTS ${CALLS_DATABASE} WITH (FORCE)`);
      await admin.end();
    },
  };
}

type FileType = keyof typeof BEFORE;

/**
 * AWS calls per object, by file type: each object's event is ingested alone (a one-record SQS batch, the most a
 * single object can cost) by the ingestData handler on s3rver, dynalite and the SQS stand-in, and every SDK call the
 * context's clients send meanwhile is counted.
 */
export async function benchAwsCalls(options: BenchOptions): Promise<Row[]> {
  const exposures = options.quick ? 3 : 10;
  const database = await benchDatabase();
  const [s3Server, dynamoServer, sqsServer] = await Promise.all([startS3Server({ bucket: BUCKET }), startDynamoServer(), startSqsServer()]);
  let db: Kysely<Database> | undefined;
  let ctx: AwsContext | undefined;
  try {
    db = createDb(database.url, { poolSize: 1 });
    await migrateToLatest(db);
    const config = parseConfig({
      STAGE: "bench",
      BUCKET_NAME: BUCKET,
      S3_ENDPOINT: s3Server.endpoint,
      DYNAMODB_ENDPOINT: dynamoServer.endpoint,
      SQS_ENDPOINT: sqsServer.endpoint,
      DATASTREAM_QUEUE_URL: sqsServer.queueUrl("datastreamIncomingQueue-bench"),
      DATABASE_URL: database.url,
      ...Object.fromEntries((Object.keys(tables) as TableName[]).map((name) => [tables[name].configKey, dynamoServer.tableNames[name]])),
    });
    const archive = createArchiveContext(config, { credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }, db });
    ctx = archive;
    const counter = new CallCounter(archive);
    // What ingestData's createHandler binds; its module also binds a handler to the environment at import.
    const handler = objectEventHandler(archive, exposurePipeline);
    // The events' real shapes, as the tests build them from the fixtures.
    const upload = (key: string, body: Buffer): Promise<StoredObject> => putObject(archive, key, body);
    const ingest = async (type: FileType, object: StoredObject): Promise<[FileType, Map<string, number>]> => {
      const calls = await counter.during(async () => {
        const response = await handler(sqsBatchOf([object]), lambdaContext("bench-ingestData"));
        if (response && response.batchItemFailures.length > 0) throw new Error(`${object.key} failed`);
      });
      return [type, calls];
    };

    const txt = loadHeaderText();
    const jpg = loadJpgs()[0]?.bytes;
    if (!jpg) throw new Error("no medium jpg among the inputs");
    const fits = smallFitsBz2();
    const samples = new Map<FileType, Map<string, number>[]>();
    for (let i = 0; i < exposures; i += 1) {
      const base = (type: string) => `bnc-kb001ms-20240101-${String(i + 1).padStart(8, "0")}`.replace("bnc", type);
      // The usual order: the header first, then the files; the thumbnail's event comes from the jpg's PUT.
      const ex = base("bex");
      const measured = [
        await ingest("header .txt", await upload(`data/${ex}-EX00.txt`, txt)),
        await ingest("medium .jpg", await upload(`data/${ex}-EX10.jpg`, jpg)),
      ];
      const thumbnailKey = `data/${ex}-EX11.jpg`;
      const thumbnail = await getObjectBytes(archive, thumbnailKey);
      if ((await sharp(thumbnail).metadata()).height !== config.THUMBNAIL_HEIGHT) throw new Error("no thumbnail was made");
      measured.push(
        await ingest("thumbnail's own event (.jpg, reduction 11)", { ...missingObject(BUCKET, thumbnailKey), size: thumbnail.length }),
        await ingest(".fits.fz, header already stored", await upload(`data/${ex}-EX10.fits.fz`, fits)),
        await ingest(".fits.bz2, header already stored", await upload(`data/${ex}-EX01.fits.bz2`, fits)),
        await ingest(".fits.bz2, no header yet (read from the file)", await upload(`data/${base("bnh")}-EX01.fits.bz2`, fits)),
      );
      const ep = base("bep");
      await ingest("header .txt", await upload(`data/${ep}-EP00.txt`, txt));
      measured.push(await ingest("expiring type (EP) .fits.fz", await upload(`data/${ep}-EP10.fits.fz`, fits)));
      for (const [type, calls] of measured) samples.set(type, [...(samples.get(type) ?? []), calls]);
    }

    const rows: Row[] = [];
    let overheads: number[] = [];
    for (const type of Object.keys(BEFORE)) {
      const runs = samples.get(type) ?? [];
      const first = runs[0] ?? new Map<string, number>();
      const same = runs.every((calls) => describeCalls(calls) === describeCalls(first));
      const overhead = total(first, isOverhead);
      const before = BEFORE[type];
      overheads = [...overheads, ...runs.map((calls) => total(calls, isOverhead))];
      rows.push(
        row({
          bench: "awsCalls",
          figure: `${type}`,
          unit: "calls",
          stats: stats(runs.map((calls) => total(calls))),
          better: "lower",
          note: `${describeCalls(first)}: ${overhead} besides its own GET and the thumbnail's PUT; before issue 15: ${before ? `${before[0]} (${before[1]})` : "?"}${same ? "" : "; the calls differed between runs"}`,
        }),
      );
    }
    rows.unshift(
      row({
        bench: "awsCalls",
        figure: "most calls per data file besides its GET and the thumbnail PUT",
        unit: "calls",
        stats: { ...stats(overheads), median: Math.max(...overheads) },
        better: "lower",
        target: atMost(OVERHEAD_TARGET, `≤ ${OVERHEAD_TARGET}`),
        note: `calls per object by file type below: each object's event ingested alone (a one-record SQS batch) by the ingestData handler, on s3rver, dynalite, the SQS stand-in and ${database.label}, ${exposures} exposures each; counted by a middleware on the context's S3, DynamoDB and SQS clients (one per send, retries not counted); before issue 15: 6–7 (+ the file's GET, the thumbnail's PUT)`,
      }),
    );
    return rows;
  } finally {
    if (ctx) closeClients(ctx);
    await db?.destroy();
    await Promise.all([s3Server.close(), dynamoServer.close(), sqsServer.close()]);
    await database.stop();
  }
}
