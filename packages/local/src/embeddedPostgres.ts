import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { logger } from "./log";

export interface EmbeddedPostgres {
  /** A postgresql:// URL the `pg` driver connects to, exactly as it would to a real server. */
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Where the database persists; in memory when absent. */
  dataDir?: string;
  /** A free port is chosen when absent. */
  port?: number;
  /** Concurrent client connections the multiplexer accepts (PGlite itself runs one query at a time). */
  maxConnections?: number;
}

function pgliteVersion(): string {
  const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
  const manifest: unknown = JSON.parse(readFileSync(join(dirname(entry), "..", "package.json"), "utf8"));
  return typeof manifest === "object" && manifest !== null && "version" in manifest ? String(manifest.version) : "unknown";
}

function isMissingFile(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ENOENT";
}

/**
 * A fresh in-memory cluster. initdb in WebAssembly takes ~10 s, so the first one is saved as a template in the
 * temp directory (per PGlite version) and later ones load it in ~1.5 s.
 */
async function freshInMemoryCluster(): Promise<PGlite> {
  const template = join(tmpdir(), `archive-pglite-${pgliteVersion()}.tar`);
  try {
    return await PGlite.create({ loadDataDir: new Blob([await readFile(template)]) });
  } catch (error) {
    if (!isMissingFile(error)) {
      logger.warn("embedded Postgres template unusable; running initdb", { template, error: String(error) });
    }
  }
  const db = await PGlite.create();
  const dump = Buffer.from(await (await db.dumpDataDir("none")).arrayBuffer());
  // Written aside and renamed, so a parallel test worker never reads half a template.
  const partial = `${template}.${randomBytes(4).toString("hex")}`;
  await writeFile(partial, dump);
  await rename(partial, template);
  return db;
}

/** PGlite behind a Postgres wire-protocol socket on 127.0.0.1, for tests and the local archive. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const db = options.dataDir ? await PGlite.create(options.dataDir) : await freshInMemoryCluster();
  const server = new PGLiteSocketServer({
    db,
    host: "127.0.0.1",
    port: options.port ?? 0,
    maxConnections: options.maxConnections ?? 16,
  });
  await server.start();
  const url = `postgresql://postgres@${server.getServerConn()}/postgres`;
  return {
    url,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
