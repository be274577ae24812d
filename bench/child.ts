import { z } from "zod";
import { benchNames, type Bench, type BenchName } from "./suite";

/** One benchmark in its own process, started by run.ts; the rows go back over the IPC channel. */
const name = z.enum(benchNames).parse(process.argv[2]);
const options = z.object({ quick: z.boolean() }).parse(JSON.parse(process.argv[3] ?? "{}"));

/**
 * Imported lazily so a benchmark whose code has not landed yet fails alone. Here rather than in suite.ts, which each
 * benchmark imports its options type from: no import cycle.
 */
async function loadBench(name: BenchName): Promise<Bench> {
  switch (name) {
    case "names":
      return (await import("./names")).benchNames;
    case "headers":
      return (await import("./headers")).benchHeaders;
    case "database":
      return (await import("./database")).benchDatabase;
    case "thumbnails":
      return (await import("./thumbnails")).benchThumbnails;
    case "endToEnd":
      return (await import("./endToEnd")).benchEndToEnd;
    case "coldStart":
      return (await import("./coldStart")).benchColdStart;
    case "reads":
      return (await import("./reads")).benchReads;
    case "conversions":
      return (await import("./conversions")).benchConversions;
    case "awsCalls":
      return (await import("./awsCalls")).benchAwsCalls;
    case "previews":
      return (await import("./previews")).benchPreviews;
  }
}

function send(message: unknown): Promise<void> {
  return new Promise((resolve) => {
    if (process.send) process.send(message, () => resolve());
    else {
      console.log(JSON.stringify(message, null, 2));
      resolve();
    }
  });
}

try {
  const bench = await loadBench(name);
  const rows = await bench(options);
  await send({ rows });
} catch (error) {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  console.error(message);
  await send({ rows: [], error: error instanceof Error ? error.message : String(error) });
}
process.exit(0);
