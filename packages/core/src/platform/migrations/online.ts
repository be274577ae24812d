import { sql, type Kysely, type RawBuilder, type Transaction } from "kysely";
import type { Logger } from "../logger";

/**
 * How the migrations change the live `images` table while the replaced service reads and writes it:
 * - a statement that needs a table lock asks for it with a short `lock_timeout` (a reader queued behind the request
 *   waits no longer than that) and is retried with backoff, the timeout growing up to `maxLockWaitMs`; an ALTER first
 *   holds off autovacuum and waits for a moment when every statement it would queue behind is close to its end, as far
 *   as the durations seen so far tell, so that under a steady stream of long reads its request is rarely in vain;
 * - indexes are built `CONCURRENTLY` (an interrupted build's invalid index is dropped and built again);
 * - data changes run in batches of image ids, each one short transaction that also records its cursor in
 *   `archive_migration_progress`, so a run stopped at its deadline resumes after the last committed batch.
 * Every step first looks at the catalog and skips what is done, so a migration can be run again from its start.
 */

export interface OnlineOptions {
  /** Epoch milliseconds after which no new batch or statement starts; absent: run to the end. */
  deadline?: number;
  /** The longest a lock request may queue, and so the longest a reader may wait behind it. */
  maxLockWaitMs: number;
  /** Lock requests per statement before the migration fails with what holds the table. */
  lockAttempts: number;
  /** Image ids per batch: a batch holds its rows' locks for a fraction of a second. */
  batchRows: number;
  /** Time an index build is given: one does not start with less left before the deadline. */
  indexBuildMs: number;
  log?: Logger;
}

const DEFAULTS: OnlineOptions = { maxLockWaitMs: 500, lockAttempts: 60, batchRows: 2000, indexBuildMs: 300_000 };

const FIRST_LOCK_WAIT_MS = 50;
const MAX_PAUSE_MS = 2000;
/** How long an ALTER looks for a quiet moment before asking for its lock anyway, and how often it looks. */
const QUIET_SEARCH_MS = 60_000;
const QUIET_POLL_MS = 10;
/** Statement durations of the table's other sessions remembered to judge when theirs will end. */
const DURATION_SAMPLES = 20;
/** How long a SHARE UPDATE EXCLUSIVE request may wait: autovacuum gives way after deadlock_timeout (1 s). */
const VACUUM_GIVES_WAY_MS = 60_000;

/** A migration of the live table: `up` is given the run (deadline, lock timeouts) it belongs to. */
export interface OnlineMigration {
  up(db: Kysely<any>, run?: OnlineRun): Promise<void>;
  down?(db: Kysely<any>): Promise<void>;
}

/** A run stopped at its deadline; running the migrations again continues it. */
export class MigrationPaused extends Error {
  override readonly name = "MigrationPaused";
}

export interface BatchRange {
  /** The batch covers image ids in (after, upTo]. */
  after: number;
  upTo: number;
}

const LOCK_NOT_AVAILABLE = "55P03";
const DEADLOCK_DETECTED = "40P01";

function sqlState(error: unknown): string | undefined {
  return error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;
}

const isLockConflict = (error: unknown) => [LOCK_NOT_AVAILABLE, DEADLOCK_DETECTED].includes(sqlState(error) ?? "");

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One run of the migrations: its options and deadline, and whether it has done any work yet. */
export class OnlineRun {
  readonly options: OnlineOptions;
  /** Lock requests that timed out and were made again: how busy the table was. */
  lockRetries = 0;
  #worked = false;
  /** Other sessions' statements on images: pid → [start, age last seen] (ms), and recent completed durations. */
  #statements = new Map<number, [number, number]>();
  #durations: number[] = [];

  constructor(options: Partial<OnlineOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
  }

  /**
   * Stops the run when work that needs `needMs` would end after the deadline. A run's first piece of work always
   * starts, so every run moves the migration forward, however short its time.
   */
  checkpoint(needMs = 0): void {
    const { deadline } = this.options;
    if (deadline !== undefined && this.#worked && Date.now() + needMs > deadline) {
      throw new MigrationPaused("the run's time is up; run the migrations again to continue");
    }
  }

  /**
   * Runs `statements` in one transaction whose lock requests (row locks, or table locks readers do not conflict with)
   * wait at most the current lock timeout; on a lock timeout or deadlock, waits a random backoff and tries again with
   * a longer timeout, up to maxLockWaitMs.
   */
  async withLockTimeout(db: Kysely<any>, what: string, statements: readonly RawBuilder<unknown>[]): Promise<void> {
    await this.#retryingLocks(db, what, (lockWaitMs) => inTransaction(db, lockWaitMs, statements));
  }

  /**
   * An ALTER TABLE or trigger change. In one transaction it first takes SHARE UPDATE EXCLUSIVE, which makes no reader
   * or writer wait and for which an autovacuum of the table gives way (after deadlock_timeout, longer than any lock
   * timeout here: without it the request would time out behind the vacuum again and again); then, when the statements'
   * lock makes `blocks` queue behind it, it waits for a quiet moment among those sessions; then runs the statements
   * with the short lock timeout. Retried as withLockTimeout.
   */
  async alterTable(
    db: Kysely<any>,
    what: string,
    statements: readonly RawBuilder<unknown>[],
    blocks: "readers" | "writers" | "nobody" = "readers",
  ): Promise<void> {
    await this.#retryingLocks(db, what, (lockWaitMs) =>
      db.transaction().execute(async (trx) => {
        await setLockTimeout(trx, VACUUM_GIVES_WAY_MS);
        await sql`LOCK TABLE images IN SHARE UPDATE EXCLUSIVE MODE`.execute(trx);
        if (blocks !== "nobody") await this.#awaitQuietMoment(trx, lockWaitMs, blocks);
        await setLockTimeout(trx, lockWaitMs);
        for (const statement of statements) await statement.execute(trx);
      }),
    );
  }

  /**
   * Watches the statements running with a lock on images that `blocks` names until each has run so long that, judged
   * by the longest statement seen end recently, it ends within `lockWaitMs`; or until none runs, or the search's time
   * is up. A session idle in its transaction gives no such sign: if it keeps its lock, the request times out and
   * names it.
   */
  async #awaitQuietMoment(trx: Transaction<any>, lockWaitMs: number, blocks: "readers" | "writers"): Promise<void> {
    const until = Date.now() + QUIET_SEARCH_MS;
    // Only statements watched poll after poll give their durations: one last seen before a pause would seem shorter.
    this.#statements = new Map();
    while (Date.now() < until) {
      const holders = await this.#watchHolders(trx, blocks);
      if (holders.length === 0) return;
      const longest = this.#durations.length > 0 ? Math.max(...this.#durations) : undefined;
      if (longest !== undefined && holders.every((age) => age + lockWaitMs >= longest)) return;
      await sleep(QUIET_POLL_MS);
    }
  }

  /** The ages (ms) of the statements holding images now; records the durations of those that ended since. */
  async #watchHolders(trx: Transaction<any>, blocks: "readers" | "writers"): Promise<number[]> {
    // pg_stat_activity is read once per transaction unless told to read again.
    await sql`SELECT pg_stat_clear_snapshot()`.execute(trx);
    const found = await sql<{ pid: number; started: number; age: number }>`
      SELECT a.pid, extract(epoch FROM a.query_start)::float8 * 1000 AS started,
        extract(epoch FROM clock_timestamp() - a.query_start)::float8 * 1000 AS age
      FROM pg_stat_activity a
      WHERE a.pid <> pg_backend_pid() AND a.state = 'active'
        AND a.pid IN (
          SELECT l.pid FROM pg_locks l
          WHERE l.relation = 'images'::regclass AND l.granted
            AND (${blocks} = 'readers' OR l.mode <> 'AccessShareLock')
        )
    `.execute(trx);
    const now = new Map(found.rows.map((row) => [row.pid, [row.started, row.age] as [number, number]]));
    for (const [pid, [started, age]] of this.#statements) {
      if (now.get(pid)?.[0] !== started) this.#durations = [...this.#durations, age].slice(-DURATION_SAMPLES);
    }
    this.#statements = now;
    return found.rows.map((row) => row.age);
  }

  /**
   * Builds an index CONCURRENTLY (reads and writes go on), unless a valid one of that name exists; an invalid one,
   * left by a build that failed or was cut off, is dropped first. `definition` follows the index name.
   */
  async createIndexConcurrently(
    db: Kysely<any>,
    name: string,
    definition: RawBuilder<unknown>,
    options: { unique?: boolean; maintenanceWorkMem?: string } = {},
  ): Promise<void> {
    const state = await indexState(db, name);
    if (state === "valid") return;
    this.checkpoint(this.options.indexBuildMs);
    const started = Date.now();
    await db.connection().execute(async (connection) => {
      if (state === "invalid") await sql`DROP INDEX CONCURRENTLY IF EXISTS ${sql.id(name)}`.execute(connection);
      // Its waits (for transactions older than the build) block no reader or writer: no lock timeout applies.
      await sql`SELECT set_config('lock_timeout', '0', false)`.execute(connection);
      if (options.maintenanceWorkMem) {
        await sql`SELECT set_config('maintenance_work_mem', ${options.maintenanceWorkMem}, false)`.execute(connection);
      }
      try {
        await sql`CREATE ${sql.raw(options.unique ? "UNIQUE " : "")}INDEX CONCURRENTLY ${sql.id(name)} ${definition}`.execute(
          connection,
        );
      } finally {
        await sql`RESET lock_timeout`.execute(connection);
        await sql`RESET maintenance_work_mem`.execute(connection);
      }
    });
    this.#worked = true;
    this.options.log?.info("index built", { index: name, ms: Date.now() - started });
  }

  /** Drops an index without blocking reads or writes. */
  async dropIndexConcurrently(db: Kysely<any>, name: string): Promise<void> {
    await sql`DROP INDEX CONCURRENTLY IF EXISTS ${sql.id(name)}`.execute(db);
    this.#worked = true;
  }

  /**
   * Runs `batch` over every image id range from the step's recorded cursor up to the newest image_id, each range in
   * one transaction that moves the cursor; rows written later with higher ids are covered by running it again.
   */
  async inBatches(
    db: Kysely<any>,
    step: string,
    batch: (trx: Transaction<any>, range: BatchRange) => Promise<void>,
  ): Promise<void> {
    await sql`
      CREATE TABLE IF NOT EXISTS archive_migration_progress (
        step text PRIMARY KEY,
        last_image_id integer NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )
    `.execute(db);
    const recorded = await sql<{ last_image_id: number }>`
      SELECT last_image_id FROM archive_migration_progress WHERE step = ${step}
    `.execute(db);
    let after = recorded.rows[0]?.last_image_id ?? 0;
    const newest = await sql<{ newest: number | null }>`SELECT max(image_id) AS newest FROM images`.execute(db);
    const end = newest.rows[0]?.newest ?? 0;
    const started = Date.now();
    while (after < end) {
      this.checkpoint();
      const range = { after, upTo: Math.min(end, after + this.options.batchRows) };
      await this.#retryingLocks(db, `${step}, image ids ${range.after + 1}-${range.upTo}`, (lockWaitMs) =>
        db.transaction().execute(async (trx) => {
          await setLockTimeout(trx, lockWaitMs);
          // A batch lost in a crash takes its cursor with it and is done again: no need to wait for the disk.
          await sql`SELECT set_config('synchronous_commit', 'off', true)`.execute(trx);
          await batch(trx, range);
          await sql`
            INSERT INTO archive_migration_progress (step, last_image_id) VALUES (${step}, ${range.upTo})
            ON CONFLICT (step) DO UPDATE SET last_image_id = excluded.last_image_id, updated_at = now()
          `.execute(trx);
        }),
      );
      after = range.upTo;
    }
    if (end > 0) this.options.log?.info("batches done", { step, upTo: end, ms: Date.now() - started });
  }

  async #retryingLocks(db: Kysely<any>, what: string, attempt: (lockWaitMs: number) => Promise<void>): Promise<void> {
    const { lockAttempts, maxLockWaitMs, log } = this.options;
    for (let n = 1; ; n += 1) {
      this.checkpoint();
      const lockWaitMs = Math.min(maxLockWaitMs, FIRST_LOCK_WAIT_MS * 2 ** (n - 1));
      try {
        await attempt(lockWaitMs);
        this.#worked = true;
        return;
      } catch (error) {
        if (!isLockConflict(error)) throw error;
        if (n >= lockAttempts) {
          throw new Error(`${what}: no lock on images after ${n} attempts; held by ${await lockHolders(db)}`, {
            cause: error,
          });
        }
        this.lockRetries += 1;
        const pauseMs = Math.round(Math.random() * Math.min(MAX_PAUSE_MS, FIRST_LOCK_WAIT_MS * 2 ** n));
        log?.info("lock not granted; trying again", { what, attempt: n, lockWaitMs, pauseMs });
        await sleep(pauseMs);
      }
    }
  }
}

async function setLockTimeout(trx: Transaction<any>, ms: number): Promise<void> {
  await sql`SELECT set_config('lock_timeout', ${`${ms}ms`}, true)`.execute(trx);
}

async function inTransaction(db: Kysely<any>, lockWaitMs: number, statements: readonly RawBuilder<unknown>[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await setLockTimeout(trx, lockWaitMs);
    for (const statement of statements) await statement.execute(trx);
  });
}

/** The sessions holding a lock on images, for the error that says why a lock was never granted. */
async function lockHolders(db: Kysely<any>): Promise<string> {
  const holders = await sql<{ pid: number; state: string | null; seconds: number | null; query: string | null }>`
    SELECT a.pid, a.state, extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS seconds,
      left(a.query, 120) AS query
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.relation = 'images'::regclass AND l.granted AND l.pid <> pg_backend_pid()
  `.execute(db);
  if (holders.rows.length === 0) return "no session now";
  return holders.rows
    .map((h) => `pid ${h.pid} (${h.state ?? "?"}, transaction ${Math.round(h.seconds ?? 0)} s: ${h.query ?? ""})`)
    .join("; ");
}

/** Whether an index of that name (on the search_path) exists, and whether a build has finished it. */
export async function indexState(db: Kysely<any>, name: string): Promise<"missing" | "invalid" | "valid"> {
  const found = await sql<{ valid: boolean }>`
    SELECT indisvalid AND indisready AS valid FROM pg_index WHERE indexrelid = to_regclass(${name})
  `.execute(db);
  const [row] = found.rows;
  return row === undefined ? "missing" : row.valid ? "valid" : "invalid";
}

/** The type of one of the images table's columns (format_type), or undefined when it has none of that name. */
export async function columnType(db: Kysely<any>, column: string): Promise<string | undefined> {
  const found = await sql<{ type: string }>`
    SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
    WHERE attrelid = 'images'::regclass AND attname = ${column} AND NOT attisdropped
  `.execute(db);
  return found.rows[0]?.type;
}

/** Whether the images table has a constraint of that name, and whether it has been validated. */
export async function constraintState(db: Kysely<any>, name: string): Promise<"missing" | "not valid" | "valid"> {
  const found = await sql<{ validated: boolean }>`
    SELECT convalidated AS validated FROM pg_constraint WHERE conrelid = 'images'::regclass AND conname = ${name}
  `.execute(db);
  const [row] = found.rows;
  return row === undefined ? "missing" : row.validated ? "valid" : "not valid";
}

/** A trigger's WHEN condition as stored (null when it has none), or undefined when there is no such trigger. */
export async function triggerCondition(db: Kysely<any>, name: string): Promise<string | null | undefined> {
  const found = await sql<{ condition: string | null }>`
    SELECT tgqual::text AS condition FROM pg_trigger WHERE tgrelid = 'images'::regclass AND tgname = ${name}
  `.execute(db);
  const [row] = found.rows;
  return row === undefined ? undefined : row.condition;
}

/** Postgres' version as a number (150004 for 15.4). */
export async function serverVersion(db: Kysely<any>): Promise<number> {
  const found = await sql<{ version: string }>`SELECT current_setting('server_version_num') AS version`.execute(db);
  return Number(found.rows[0]?.version ?? 0);
}
