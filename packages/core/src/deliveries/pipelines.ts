import type { ArchiveDirectory } from "../names/fileName";

/**
 * Which function ingests which prefix: the one table the stacks (queues, notifications, functions), the local
 * archive's dispatcher and the handlers' tests are built from. Data only, so reading it bundles no pipeline. Uploads
 * to test/ are accepted but stored only: no route reads that prefix.
 */
export interface IngestRoute {
  directory: ArchiveDirectory;
  /** The bucket prefix whose object-created events feed it. */
  prefix: `${ArchiveDirectory}/`;
  /** The handler file under packages/functions/src, and the function's id stem in the stacks. */
  functionName: "ingestData" | "ingestInfoImages" | "ingestAllsky";
  /** Whether the pipeline writes Postgres (the function then runs in the database's network). */
  usesDatabase: boolean;
}

export const INGEST_ROUTES: readonly IngestRoute[] = [
  { directory: "data", prefix: "data/", functionName: "ingestData", usesDatabase: true },
  { directory: "info-images", prefix: "info-images/", functionName: "ingestInfoImages", usesDatabase: false },
  { directory: "allsky", prefix: "allsky/", functionName: "ingestAllsky", usesDatabase: false },
];

/** Receives of an ingest message before its queue dead-letters it (the stacks' redrive policy). */
export const INGEST_MAX_RECEIVE_COUNT = 5;

/** The ingest route of an object key, by its first path segment; undefined outside the archive's prefixes. */
export function ingestRouteOf(key: string): IngestRoute | undefined {
  return INGEST_ROUTES.find((route) => key.startsWith(route.prefix));
}
