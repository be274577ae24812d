import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import type { Database } from "@archive/core/exposures/imagesTable";
import { createDb } from "@archive/core/platform/postgres";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "@archive/local/embeddedPostgres";
import { migrateToLatest } from "@archive/core/platform/migrate";

// Call useTestDatabase() at a test file's top level: each FILE gets a fresh database, migrated to the latest schema
// (a new database on TEST_DATABASE_URL's server, dropped afterwards; without it, in-memory PGlite behind a socket).
// `db` and `url` are valid from beforeAll on; `migrate: false` leaves the database empty for migration tests.

export interface TestDatabase {
  readonly db: Kysely<Database>;
  readonly url: string;
}

export interface TestDatabaseOptions {
  migrate?: boolean;
  poolSize?: number;
}

interface Server {
  url: string;
  stop(): Promise<void>;
}

function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh database on the given server, dropped (with any sessions left on it) when stopped. */
async function createServerDatabase(serverUrl: string): Promise<Server> {
  const name = `archive_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: databaseUrl(serverUrl, name),
    async stop() {
      const dropper = new pg.Client({ connectionString: serverUrl });
      await dropper.connect();
      try {
        await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await dropper.end();
      }
    },
  };
}

export function useTestDatabase(options: TestDatabaseOptions = {}): TestDatabase {
  let server: Server | EmbeddedPostgres | undefined;
  let db: Kysely<Database> | undefined;

  beforeAll(async () => {
    const serverUrl = process.env.TEST_DATABASE_URL;
    server = serverUrl ? await createServerDatabase(serverUrl) : await startEmbeddedPostgres();
    db = createDb(server.url, { poolSize: options.poolSize ?? 4 });
    if (options.migrate ?? true) await migrateToLatest(db);
  });

  afterAll(async () => {
    await db?.destroy();
    await server?.stop();
  });

  return {
    get db() {
      if (!db) throw new Error("useTestDatabase: the database exists only from beforeAll on");
      return db;
    },
    get url() {
      if (!server) throw new Error("useTestDatabase: the database exists only from beforeAll on");
      return server.url;
    },
  };
}
