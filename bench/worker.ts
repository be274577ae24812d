import { fork } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { z } from "zod";

/**
 * Benchmarks that must measure a cold process (conversions, previews) run their work in a fresh Node process: the
 * parent forks the worker file and takes one result over IPC; the worker runs its work, sends the result (or prints
 * it when run by hand) and exits.
 */
const benchDir = fileURLToPath(new URL(".", import.meta.url));

/** Forks `file` (in bench/, run by tsx as every benchmark is) with its arguments; its one valid result. */
export function forkWorker<T>(file: string, args: readonly string[], schema: z.ZodType<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = fork(join(benchDir, file), [...args], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let result: T | undefined;
    child.on("message", (message) => {
      const parsed = schema.safeParse(message);
      if (parsed.success) result = parsed.data;
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => (result !== undefined ? resolve(result) : reject(new Error(`${file} exited with ${signal ?? code} and no result`))));
  });
}

/** The worker's side: runs the work, hands its result to the parent (or prints it), and exits 0, or 1 on failure. */
export function runAsWorker(work: () => Promise<unknown>): void {
  work()
    .then(
      (result) =>
        new Promise<void>((resolve, reject) => {
          if (!process.send) {
            console.log(JSON.stringify(result, null, 2));
            resolve();
          } else process.send(result, (error: Error | null) => (error ? reject(error) : resolve()));
        }),
    )
    .then(() => process.exit(0))
    .catch((error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exit(1);
    });
}
