import { fork } from "node:child_process";
import { createWriteStream } from "node:fs";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { z } from "zod";
import { benchDir, cacheDir, ensureCacheDir } from "./inputs";
import { formatMarkdown, formatTable, notMeasured, rowSchema, type Row } from "./harness";
import { benchNames, type BenchName, type BenchOptions } from "./suite";

/**
 * `npm run bench [-- --only names,headers] [-- --quick]`: each benchmark runs in its own Node process (so peak memory
 * and JIT state belong to it alone), then one table is printed and bench/results.json written.
 */
const usage = `usage: npm run bench -- [--only ${benchNames.join(",")}] [--quick] [--markdown]`;

function parseArgs(argv: readonly string[]): { only: BenchName[]; options: BenchOptions; markdown: boolean } {
  let only: BenchName[] = [...benchNames];
  let quick = false;
  let markdown = false;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === "--quick") quick = true;
    else if (arg === "--markdown") markdown = true;
    else if (arg === "--only" || arg?.startsWith("--only=")) {
      const value = arg === "--only" ? argv[(i += 1)] : arg.slice("--only=".length);
      const names = (value ?? "").split(",").filter((n) => n.length > 0);
      const parsed = z.array(z.enum(benchNames)).min(1).safeParse(names);
      if (!parsed.success) throw new Error(`--only takes a list of ${benchNames.join(", ")}\n${usage}`);
      only = parsed.data;
    } else throw new Error(`unknown argument ${arg ?? ""}\n${usage}`);
  }
  return { only, options: { quick }, markdown };
}

const databaseUrl = process.env.BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

async function postgresVersion(): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const result = await client.query<{ server_version: string }>("SHOW server_version");
    return `PostgreSQL ${result.rows[0]?.server_version ?? "unknown"}`;
  } catch (error) {
    return `unreachable at ${databaseUrl} (${error instanceof Error ? error.message : String(error)})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function machine(): Promise<Record<string, string | number>> {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    model: cpus[0]?.model ?? "unknown",
    memoryGiB: Number((os.totalmem() / 1024 ** 3).toFixed(1)),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    // Other work on the machine skews every figure; the 1-minute load average says how busy it was.
    loadAverageAtStart: Number((os.loadavg()[0] ?? 0).toFixed(2)),
    postgres: await postgresVersion(),
  };
}

const childMessage = z.object({
  rows: z.array(rowSchema),
  error: z.string().optional(),
});

/** Runs one benchmark in a fresh Node process with tsx; it sends back its rows. */
function runChild(name: BenchName, options: BenchOptions): Promise<Row[]> {
  return new Promise((resolve) => {
    // The archive's own JSON logs go to bench/.cache/<name>.log, not the table; errors still reach the terminal.
    const child = fork(join(benchDir, "child.ts"), [name, JSON.stringify(options)], {
      execArgv: ["--import", "tsx"],
      // The SDK's "Node 20 support ends" notice would print into the table; the Lambdas run Node 22.
      env: {
        POWERTOOLS_LOG_LEVEL: "WARN",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        ...process.env,
        BENCH_DATABASE_URL: databaseUrl,
      },
      stdio: ["ignore", "pipe", "inherit", "ipc"],
    });
    child.stdout?.pipe(createWriteStream(join(cacheDir, `${name}.log`)));
    let rows: Row[] | undefined;
    let failure: string | undefined;
    child.on("message", (message) => {
      const parsed = childMessage.safeParse(message);
      if (!parsed.success) failure = `unreadable result from the ${name} process`;
      else {
        rows = parsed.data.rows;
        failure = parsed.data.error;
      }
    });
    child.on("exit", (code, signal) => {
      const reason = failure ?? (code === 0 ? undefined : `process exited with ${signal ?? code}`);
      const failedRow: Row[] = reason ? [notMeasured(name, "did not finish", reason)] : [];
      resolve([...(rows ?? []), ...failedRow]);
    });
  });
}

async function main(): Promise<void> {
  const { only, options, markdown } = parseArgs(process.argv.slice(2));
  const started = performance.now();
  await ensureCacheDir();
  const description = await machine();
  console.log(
    `machine: ${description.cpus} × ${description.model}, ${description.memoryGiB} GiB, Node ${description.node}, ${description.postgres}, load ${description.loadAverageAtStart}`,
  );
  const rows: Row[] = [];
  const durations: Record<string, number> = {};
  for (const name of only) {
    const t0 = performance.now();
    console.log(`\n▶ ${name} …`);
    const result = await runChild(name, options);
    durations[name] = Math.round(performance.now() - t0);
    console.log(formatTable(result));
    rows.push(...result);
  }
  const totalSeconds = (performance.now() - started) / 1000;
  const loadAtEnd = Number((os.loadavg()[0] ?? 0).toFixed(2));
  console.log(`\n=== results (${totalSeconds.toFixed(0)} s; load average ${description.loadAverageAtStart} at start, ${loadAtEnd} at end) ===\n`);
  console.log(formatTable(rows));
  if (markdown) console.log(`\n${formatMarkdown(rows)}`);
  const results = {
    date: new Date().toISOString(),
    machine: { ...description, loadAverageAtEnd: loadAtEnd },
    options,
    totalSeconds: Number(totalSeconds.toFixed(1)),
    secondsPerBench: Object.fromEntries(Object.entries(durations).map(([k, v]) => [k, v / 1000])),
    cacheDir,
    rows,
  };
  await writeFile(join(benchDir, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwritten: bench/results.json`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
