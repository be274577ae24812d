import { z } from "zod";
import { simulateFleet, type FleetReport } from "./fleet/fleet";
import { AWS_LIMITS, FLEET } from "./fleet/inputs";
import { formatFleetReport, formatSweep } from "./fleet/report";

/**
 * `npm run simulate -- --sites 100 --night`: the fleet model (docs/scale.md). One night of a fleet through this
 * archive and through the replaced design, on the same seeded arrivals; prints markdown tables (or JSON).
 */
const usage =
  "usage: npm run simulate -- [--sites N] [--night | --hours H] [--seed N] [--sweep 10,100,300,1000] [--ingest-concurrency N] [--replaced-rows N] [--json]";

const count = z.coerce.number().int().positive();
const argsSchema = z
  .object({
    sites: count.default(100),
    night: z.boolean().default(false),
    hours: z.coerce.number().positive().max(24).optional(),
    seed: z.coerce.number().int().nonnegative().default(1),
    sweep: z
      .string()
      .transform((list) => list.split(",").filter((s) => s.length > 0))
      .pipe(z.array(count).min(1))
      .optional(),
    "ingest-concurrency": z.coerce.number().int().min(2).max(AWS_LIMITS.esmMaxConcurrency).optional(),
    "replaced-rows": z.coerce.number().int().nonnegative().optional(),
    json: z.boolean().default(false),
  })
  .strict()
  .refine((args) => !(args.night && args.hours !== undefined), "give --night or --hours, not both");

type Args = z.infer<typeof argsSchema>;

const FLAGS = new Set(["night", "json"]);

function parseArgs(argv: readonly string[]): Args {
  const raw: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? "";
    if (!arg.startsWith("--")) throw new Error(`unexpected argument ${arg}\n${usage}`);
    const [name = "", inline] = arg.slice(2).split("=", 2);
    if (FLAGS.has(name)) raw[name] = true;
    else {
      const value = inline ?? argv[(i += 1)];
      if (value === undefined) throw new Error(`--${name} needs a value\n${usage}`);
      raw[name] = value;
    }
  }
  const parsed = argsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`${parsed.error.issues.map((issue) => `${issue.path.join(".") || "arguments"}: ${issue.message}`).join("\n")}\n${usage}`);
  }
  return parsed.data;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const hours = args.night ? FLEET.nightHours : (args.hours ?? 1);
  const run = (sites: number): FleetReport =>
    simulateFleet({
      sites,
      hours,
      seed: args.seed,
      ingestConcurrency: args["ingest-concurrency"],
      replacedTableRows: args["replaced-rows"],
    });
  const reports = (args.sweep ?? [args.sites]).map(run);
  if (args.json) {
    const runs = reports.map(({ archive, replaced, ...rest }) => ({
      ...rest,
      archive: { run: archive.run, costPerMillion: archive.costPerMillion },
      replaced: { run: replaced.run, costPerMillion: replaced.costPerMillion },
    }));
    console.log(JSON.stringify(runs, null, 2));
    return;
  }
  if (args.sweep) {
    console.log(formatSweep(reports));
    const largest = reports.at(-1);
    if (largest) console.log(`\nAt ${largest.sites} sites:\n\n${formatFleetReport(largest)}`);
    return;
  }
  for (const report of reports) console.log(formatFleetReport(report));
}

try {
  main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
