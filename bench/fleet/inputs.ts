import { stageConfig } from "../../stacks/stageConfig";

/**
 * What one object costs, for this archive and for the design it replaces: the ordered AWS calls and database work of
 * each kind of object, the CPU they take, the Lambda settings they run with, and the shape of a fleet's night. The
 * one module to change when new figures are measured (e.g. the bench's calls per object by type): the model, the
 * prices and the report only read it. Every figure says where it comes from:
 * - "measured": `npm run bench` on this machine kind (README, Performance, run of 2026-11-21);
 * - "code": counted in the source named (this repository at 2a15e3a; the replaced one at LCOGT/ptr_data a267d1f);
 * - "stacks": what `stacks/` deploys;
 * - "AWS": AWS documentation;
 * - "assumed": not measurable without an AWS account; replace with a deployed stage's CloudWatch/X-Ray figures.
 */

export const OBJECT_KINDS = ["headerTxt", "mediumJpg", "smallFits", "largeFits", "thumbnailJpg"] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

/** The file names of one exposure's objects (header-first order; the thumbnail is written back by the archive). */
export const OBJECT_FILES: Record<ObjectKind, string> = {
  headerTxt: "…-EX01.txt (FITS header)",
  mediumJpg: "…-EX10.jpg (medium)",
  smallFits: "…-EX10.fits.fz (small)",
  largeFits: "…-EX01.fits.bz2 (large)",
  thumbnailJpg: "…-EX11.jpg (thumbnail, written back)",
};

export type DynamoTable = "recent-uploads-log" | "object-deliveries" | "data-expiration-tracker";

/**
 * When a step runs only sometimes: for an exposure of an expiring data type (EP, EF), or for a FITS file processed
 * before its exposure's header was recorded (the model decides this from the simulated processing order).
 */
export type StepCondition = "expiring" | "headerMissing";

/** One thing a handler does for an object, in order. Latencies and CPU per kind of step are below. */
export type Step =
  | { call: "dynamoWrite"; table: DynamoTable; when?: StepCondition }
  /** A strongly consistent read of an item up to 4 KB: one read unit (none on today's ingest paths). */
  | { call: "dynamoRead"; table: DynamoTable }
  | { call: "s3Head" }
  | { call: "s3Get"; bytes: number; when?: StepCondition }
  /** The thumbnail written back: its own object event follows. */
  | { call: "s3Put"; bytes: number }
  /** SendMessage, GetQueueUrl: one SQS request. */
  | { call: "sqsRequest" }
  /** A statement on the connection the function instance holds (pool size 1); `records: "header"` writes the header. */
  | { call: "sql"; records?: "header"; when?: StepCondition }
  /** A new connection, one statement, commit, close (the replaced design's `get_session`). */
  | { call: "dbSession"; records?: "header"; when?: StepCondition }
  /** A boto3 client created inside the handler (the replaced design's datastreamer module, twice per object). */
  | { call: "sdkClient" }
  /** Work on the function's CPU alone. */
  | { call: "cpu"; ms: number; when?: StepCondition };

export type CallType = Step["call"];

/** Bytes of each object, for transfer times: measured files of ../shared/bench-inputs and the bench. */
export const OBJECT_BYTES = {
  /** header_8640.txt */
  headerTxt: 8_640,
  /** sro-kb001ms-20220629-00010442-EX10_1536x1024.jpg */
  mediumJpg: 231_335,
  /** a 192×128 thumbnail at quality 80 (assumed) */
  thumbnailJpg: 6_000,
  /** what reading a 32 MB .fits.bz2's header fetches (measured, headers bench: 1.11 MB) */
  fitsHeaderPrefix: 1_110_000,
} as const;

/** Per step type: median network latency (ms, in-region, from Lambda) — all assumed, lognormal around the median. */
export const LATENCY = {
  medianMs: {
    dynamoWrite: 6,
    dynamoRead: 5,
    s3Head: 12,
    s3Get: 18,
    s3Put: 25,
    sqsRequest: 8,
    /** one statement and its durable commit on RDS, in-region */
    sql: 2,
    /** TCP + TLS + SCRAM to RDS, before the first statement of a new connection */
    dbConnect: 15,
  },
  /** ln-space standard deviation: p99 ≈ 3.2 × median */
  sigma: 0.5,
  /** S3 transfer after the first byte (assumed 50 MB/s for one stream from a 1 GB function) */
  s3BytesPerMs: 50_000,
  /** S3 notification or EventBridge rule → message visible in the queue (assumed) */
  notificationDelayS: 0.5,
  /** the Lambda service between an event (or a batch) and the handler running, not billed (assumed) */
  invokeOverheadMs: 10,
} as const;

/** Lambda CPU scales with memory: 1,769 MB is one vCPU (AWS). Below that, CPU-bound work takes longer. */
export const LAMBDA_MB_PER_VCPU = 1769;
/** A Lambda vCPU's speed against one core of the bench machine (AMD EPYC): assumed equal. */
export const LAMBDA_VCPU_SPEED = 1;

/** How events reach the function, as the stacks (or the replaced serverless.yml) configure it. */
export type Delivery =
  | {
      kind: "sqs";
      batchSize: number;
      batchingWindowS: number;
      /** The event source mapping's maximum concurrency (= database connections: pool size 1 per instance). */
      maxConcurrency: number;
      /** Lambda starts an SQS source with 5 concurrent batches and adds up to 300 a minute while messages wait (AWS). */
      initialConcurrency: number;
      scaleUpPerS: number;
      /** Pollers gathering a batch at once while traffic is low (AWS: five, not fewer with maximum concurrency set). */
      gatherers: number;
      /** Long-polling receives while idle: pollers × 3 a minute (20 s waits) on each of the ingest queues. */
      idleReceivesPerDay: number;
      /** Object events reach the queue through EventBridge (billed per event) or the bucket's notifications (free). */
      objectEvents: "eventbridge" | "notifications";
    }
  | {
      /** S3 invokes the function once per object (asynchronous invocation): no queue, no batch. */
      kind: "direct";
      /** The account's concurrency, shared by every function of the account (AWS default quota). */
      maxConcurrency: number;
    };

export interface DesignInputs {
  name: string;
  lambda: {
    memoryMb: number;
    architecture: "arm64" | "x86_64";
    /** Cold start: module import and first connection; billed since 2025-08-01 (AWS). */
    initMs: number;
    /** Per invocation: middleware, metrics flush (local CPU ms). */
    invocationCpuMs: number;
    /** An idle instance is kept this long before Lambda reclaims it (assumed; AWS does not document it). */
    idleLifetimeS: number;
  };
  delivery: Delivery;
  steps: Record<ObjectKind, readonly Step[]>;
  /** Local CPU of one AWS SDK call (signing, serialising, parsing). */
  cpuMsPerAwsCall: number;
  /** Local CPU of one statement on a held connection (client side). */
  cpuMsPerSqlStatement: number;
  /** One `dbSession`: connect, statement, commit, close, as measured locally (the network's part is dbConnect). */
  dbSessionMs: number;
  /** Postgres CPU per `sql` step / per `dbSession` (upper bounds: the local figures include the client's share). */
  dbServerMsPerSql: number;
  dbServerMsPerSession: number;
  /** One boto3 client created in the handler (local CPU ms). */
  sdkClientMs: number;
}

/** Every exposure's uploads, in the order and at the offsets (s after the first) a site sends them (assumed). */
export const EXPOSURE_UPLOADS: readonly { kind: Exclude<ObjectKind, "thumbnailJpg">; offsetS: number }[] = [
  { kind: "headerTxt", offsetS: 0 },
  { kind: "mediumJpg", offsetS: 0.5 },
  { kind: "smallFits", offsetS: 1.5 },
  // ~30 MB over the site's uplink
  { kind: "largeFits", offsetS: 6 },
];

const prod = stageConfig("prod");

/** What a design does for each kind of object: the same first and last steps around what the kind itself needs. */
interface StepParts {
  /** Every object's first steps (upload log, delivery record, expiration entry). */
  first: readonly Step[];
  /**
   * How each database step (a file's flag, "has the exposure a header?", writing a header) reaches Postgres: on the
   * connection the instance holds, or on a new connection each.
   */
  database: "sql" | "dbSession";
  /** Parsing a header (local CPU ms). */
  headerParseMs: number;
  /** The medium jpg's thumbnail, made in memory (local CPU ms). */
  thumbnailMs: number;
  /** Every object's last steps (the notice). */
  last: readonly Step[];
}

function stepsOf(parts: StepParts): Record<ObjectKind, readonly Step[]> {
  const { first, last, database } = parts;
  const flag: Step = { call: database };
  const fits: readonly Step[] = [
    ...first,
    flag,
    // has the exposure its header?
    { call: database },
    { call: "s3Get", bytes: OBJECT_BYTES.fitsHeaderPrefix, when: "headerMissing" },
    { call: "cpu", ms: parts.headerParseMs, when: "headerMissing" },
    { call: database, records: "header", when: "headerMissing" },
    ...last,
  ];
  return {
    headerTxt: [
      ...first,
      { call: "s3Get", bytes: OBJECT_BYTES.headerTxt },
      { call: "cpu", ms: parts.headerParseMs },
      { call: database, records: "header" },
      ...last,
    ],
    mediumJpg: [
      ...first,
      flag,
      { call: "s3Get", bytes: OBJECT_BYTES.mediumJpg },
      { call: "cpu", ms: parts.thumbnailMs },
      { call: "s3Put", bytes: OBJECT_BYTES.thumbnailJpg },
      ...last,
    ],
    smallFits: fits,
    largeFits: fits,
    thumbnailJpg: [...first, flag, ...last],
  };
}

/**
 * This archive's ingestData as deployed to prod: calls counted in deliveries/ingest.ts and exposures/ingestExposure.ts
 * (code): 5 AWS calls for a header, 6 for a medium jpg, 4 for a FITS file or a thumbnail (+1 for an expiring type, +1
 * GET for a FITS file before its header), as the awsCalls bench (bench/awsCalls.ts) counts them at the SDK clients
 * since 328c850 (before: 7, 8, 6, 6). CPU: ~24 ms of handler CPU per event over the bench's txt/jpg/fits/thumbnail mix (measured, endToEnd), of
 * which one 9.4 ms thumbnail per four events and 0.42 ms per statement; the rest over 27 calls is 3.1 ms a call.
 */
export const ARCHIVE: DesignInputs = {
  name: "this archive",
  lambda: {
    // stacks/Ingest.ts ingestFunction; stacks/functions.ts: Node 22 on arm64
    memoryMb: 1024,
    architecture: "arm64",
    // measured: ingestData import 138 ms in a fresh node; assumed: secret + first Postgres connection 60 ms
    initMs: 138 * (LAMBDA_MB_PER_VCPU / 1024) + 60,
    invocationCpuMs: 2,
    idleLifetimeS: 600,
  },
  delivery: {
    kind: "sqs",
    // stacks/Ingest.ts prefixQueue: batchSize 10, maxBatchingWindow 1 s; maxConcurrency = the stage's setting
    batchSize: 10,
    batchingWindowS: 1,
    maxConcurrency: prod.ingestDataConcurrency,
    initialConcurrency: 5,
    scaleUpPerS: 300 / 60,
    gatherers: 5,
    idleReceivesPerDay: 3 * 5 * 3 * 60 * 24,
    objectEvents: prod.objectEvents,
  },
  // deliveries/ingest.ts, exposures/ingestExposure.ts, deliveries/notices.ts, in call order
  steps: stepsOf({
    first: [
      { call: "dynamoWrite", table: "recent-uploads-log" },
      // the object-deliveries item (sequencer order, repeats do nothing) and the notice claim, one conditional write;
      // no HEAD since 328c850: the event carries size and ETag
      { call: "dynamoWrite", table: "object-deliveries" },
      // conditional put: consumes a write unit even when the exposure already has its entry
      { call: "dynamoWrite", table: "data-expiration-tracker", when: "expiring" },
    ],
    // recordFile, hasHeader, recordHeader (exposures/imageStore.ts) on the instance's one connection
    database: "sql",
    // measured: headers bench, 43,656 headers/s
    headerParseMs: 0.023,
    // measured: thumbnails bench, 1536×1024 → 128 px high
    thumbnailMs: 9.4,
    // send, record as sent (the claim was taken with the delivery record)
    last: [{ call: "sqsRequest" }, { call: "dynamoWrite", table: "object-deliveries" }],
  }),
  cpuMsPerAwsCall: 3.1,
  // measured: database bench, 2,382 events/s on one connection (commit without flush wait)
  cpuMsPerSqlStatement: 0.42,
  dbSessionMs: 0,
  dbServerMsPerSql: 0.42,
  dbServerMsPerSession: 0,
  sdkClientMs: 0,
};

/** Rows in the replaced design's `images` table: it has no index on base_filename, so each lookup scans them. */
export const REPLACED_TABLE_ROWS = 100_000;
/**
 * Measured (../shared/bench-inputs/README.md, the original's figures): one event through its update functions, a new
 * connection each, 6.4 ms on an empty table, 77 ms with 100,000 rows; in between, the scan grows with the rows.
 */
export const replacedSessionMs = (rows: number): number => 6.4 + ((77 - 6.4) * rows) / 100_000;

/**
 * The replaced lambda_service (LCOGT/ptr_data a267d1f, insert_data.py, db.py, datastreamer.py; code): S3 invokes
 * insert_data once per object; every database call opens its own connection (create_engine per call), so a FITS file
 * takes two and up to three. serverless.yml sets no memory or architecture: the framework's 1024 MB on x86_64.
 * `tableRows`: the `images` rows each lookup scans.
 */
export const replacedDesign = (tableRows: number): DesignInputs => ({
  name: "replaced design",
  lambda: {
    memoryMb: 1024,
    architecture: "x86_64",
    // measured: the original's cold import 594 ms; assumed: its SSM GetParameter at import 20 ms
    initMs: 594 * (LAMBDA_MB_PER_VCPU / 1024) + 20,
    invocationCpuMs: 1,
    idleLifetimeS: 600,
  },
  delivery: { kind: "direct", maxConcurrency: 1000 },
  steps: stepsOf({
    first: [
      { call: "dynamoWrite", table: "recent-uploads-log" },
      // an unconditional put for every file of an expiring exposure
      { call: "dynamoWrite", table: "data-expiration-tracker", when: "expiring" },
    ],
    // update_new_image, header_data_exists, update_header_data (db.py): each opens its own connection
    database: "dbSession",
    // measured: the original's header scanner, 567 µs
    headerParseMs: 0.567,
    // measured: the original's Pillow thumbnail
    thumbnailMs: 3.35,
    // send_to_datastream: a new SQS client for get_queue_url and another for send_message
    last: [{ call: "sdkClient" }, { call: "sqsRequest" }, { call: "sdkClient" }, { call: "sqsRequest" }],
  }),
  // assumed: boto3's per-call cost taken equal to the JS SDK's (not measured)
  cpuMsPerAwsCall: 3.1,
  cpuMsPerSqlStatement: 0,
  dbSessionMs: replacedSessionMs(tableRows),
  dbServerMsPerSql: 0,
  dbServerMsPerSession: replacedSessionMs(tableRows),
  // assumed: a boto3 client with the session's loaders warm
  sdkClientMs: 10,
});

export const REPLACED = replacedDesign(REPLACED_TABLE_ROWS);

/** A burst: every site uploads at the burst rate, from `startFraction` of the period for `durationFraction` of it. */
export interface Burst {
  startFraction: number;
  durationFraction: number;
}

export interface FleetInputs {
  /** One night; a night is a day's uploads (fixed daily costs are shared by them). */
  nightHours: number;
  /** 1 M objects a night for 100 sites (issue 15), thumbnails included. */
  objectsPerSitePerNight: number;
  /** Objects per second each site sends during a burst: 200/s for 100 sites (issue 15). */
  burstObjectsPerSitePerS: number;
  /** Dusk calibrations, a fleet-wide reconnect at midnight, dawn calibrations: 5 minutes each of a 10-hour night (assumed). */
  bursts: readonly Burst[];
  /** Exposures of an expiring data type: EF 9.9% + EP 4.9% of keys_100k.txt.gz (measured mix of the bench inputs). */
  expiringFraction: number;
}

export const FLEET: FleetInputs = {
  nightHours: 10,
  objectsPerSitePerNight: 10_000,
  burstObjectsPerSitePerS: 2,
  bursts: [
    { startFraction: 0.02, durationFraction: 300 / 36_000 },
    { startFraction: 0.5, durationFraction: 300 / 36_000 },
    { startFraction: 0.95, durationFraction: 300 / 36_000 },
  ],
  expiringFraction: 0.148,
};

/** The objects of one exposure: its uploads and the thumbnail the archive writes back. */
export const OBJECTS_PER_EXPOSURE = EXPOSURE_UPLOADS.length + 1;

/** Postgres: prod's existing instance ("t3 … allows ~80 connections", stacks/stageConfig.ts). */
export const DATABASE = {
  instanceClass: "db.t3.micro",
  vcpus: 2,
  maxConnections: 80,
  /** The connection budget of the archive's event consumers (issue 15). */
  connectionBudget: 20,
  /**
   * Other functions that hold a connection beside ingestData (stacks/Ingest.ts): expireData, one per stream shard of
   * the expiration tracker (the running system's table was made with 1 WCU: one partition, one shard — assumed), and
   * sweepExpirations (one a minute, 50 s timeout). The API functions' connections are not capped and not modelled.
   */
  otherConsumers: { expireData: 1, sweepExpirations: 1 },
} as const;

/** The other event consumers' concurrency caps (stacks/Ingest.ts: ingestInfoImages and ingestAllsky take the stage's). */
export const OTHER_CONSUMERS_CONCURRENCY = 2 * prod.consumerConcurrency + DATABASE.otherConsumers.expireData + DATABASE.otherConsumers.sweepExpirations;

/** AWS limits the model compares against (AWS documentation; quotas are per account and Region unless said). */
export const AWS_LIMITS = {
  accountConcurrency: 1000,
  /** New execution environments per function every 10 s. */
  scalingPer10S: 1000,
  /** An SQS event source mapping's maximum concurrency, at most. */
  esmMaxConcurrency: 1000,
  /** Write units per second one partition (so one partition key) takes. */
  partitionWriteUnitsPerS: 1000,
  /** A new on-demand table serves this at once; above it, DynamoDB adapts (doubling its previous peak). */
  onDemandNewTableWriteUnitsPerS: 4000,
  /** S3 per partitioned prefix, before S3 splits it. */
  s3PutPerPrefixPerS: 3500,
  s3GetPerPrefixPerS: 5500,
} as const;
