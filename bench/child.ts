import { z } from "zod";
import { benchNames, loadBench } from "./suite";

/** One benchmark in its own process, started by run.ts; the rows go back over the IPC channel. */
const name = z.enum(benchNames).parse(process.argv[2]);
const options = z.object({ quick: z.boolean() }).parse(JSON.parse(process.argv[3] ?? "{}"));

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
