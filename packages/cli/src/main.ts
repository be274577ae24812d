import { parseArgs } from "node:util";
import { ArchiveError } from "@archive/core/platform/errors";
import { DEFAULT_API, headerJson, uploadDemo, uploadFiles } from "./commands";
import { listDeadLetters, redriveDeadLetters, type DeadLetterTarget } from "./deadLetters";
import { fetchExpiryPlan, formatExpiryPlan, formatUnpinned, pinExposure, unpinExposure } from "./expiry";
import { fetchGaps, formatGaps } from "./operations";
import { fetchStatus, fetchStuck, formatStatus, formatStuck } from "./exposureStatus";
import {
  fetchQuarantine,
  fetchQuarantined,
  formatQuarantine,
  formatQuarantined,
  formatReconcile,
  formatReingest,
  requestReconcile,
  requestReingest,
} from "./quarantine";
import { SITE_PATTERN, UPLOAD_DIRECTORIES, type UploadDirectory } from "@archive/core/names/fileName";

/** `archive <command>`: argument parsing and exit codes only; the work is in commands.ts. */
const USAGE = `usage:
  archive upload <files…> [--dir data|info-images|allsky|test] [--channel 1|2|3] [--api URL] [--token T]
  archive demo [--site tst] [--count 3] [--api URL] [--token T]
  archive header <file.txt|.fits|.fits.bz2|.fits.gz|.fits.fz>
  archive dlq list [--api URL | --queue DLQ_URL]
  archive dlq redrive [MESSAGE_ID…] [--api URL | --queue DLQ_URL]
  archive gaps --site S --day YYYYMMDD [--json] [--api URL] [--token T]
  archive expire --dry-run [--site S] [--json] [--api URL] [--token T]
  archive pin <base_filename> [--note N] [--api URL] [--token T]
  archive unpin <base_filename> [--api URL] [--token T]
  archive status <base_filename> [--json] [--api URL] [--token T]
  archive stuck [--site S] [--json] [--api URL] [--token T]   (also: archive status --stuck [--site S])
  archive quarantine list [--site S] [--since T] [--json] [--api URL] [--token T]
  archive quarantine show KEY [--json] [--api URL] [--token T]
  archive reingest KEY… | --since T | --all-quarantined [--json] [--api URL] [--token T]
  archive reconcile [--since T] [--dry-run] [--json] [--api URL] [--token T]

--api defaults to $ARCHIVE_API or ${DEFAULT_API} (the local archive, which accepts anonymous uploads);
--token defaults to $ARCHIVE_TOKEN (a deployed stage needs a site token to upload, an operator token for the operations:
gaps, status, stuck, expire, pin and unpin);
--queue is a deployed stage's dead-letter queue (its Ingest stack's …DeadLetterQueueUrl output), read with your AWS
credentials.`;

class UsageError extends Error {}

const DIRECTORIES: readonly UploadDirectory[] = UPLOAD_DIRECTORIES;

function isDirectory(value: string): value is UploadDirectory {
  return (DIRECTORIES as readonly string[]).includes(value);
}

function positiveInteger(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`--${name} must be a positive whole number`);
  return Number(value);
}

function target(values: { api?: string; token?: string }): { api: string; token?: string } {
  const token = values.token ?? process.env.ARCHIVE_TOKEN;
  return { api: values.api ?? process.env.ARCHIVE_API ?? DEFAULT_API, ...(token ? { token } : {}) };
}

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "upload": {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { dir: { type: "string", default: "data" }, channel: { type: "string" }, api: { type: "string" }, token: { type: "string" } },
      });
      if (positionals.length === 0) throw new UsageError("upload needs at least one file");
      const directory = values.dir;
      if (!isDirectory(directory)) throw new UsageError(`--dir must be one of ${DIRECTORIES.join(", ")}`);
      const channel = values.channel === undefined ? undefined : positiveInteger(values.channel, "channel", 1);
      if (channel !== undefined && (channel > 3 || directory !== "info-images")) {
        throw new UsageError("--channel is 1, 2 or 3, and only for --dir info-images");
      }
      const outcomes = await uploadFiles(positionals, { ...target(values), directory, ...(channel ? { channel } : {}) }, process.stderr);
      const failed = outcomes.filter((outcome) => outcome.error !== undefined).length;
      process.stderr.write(`${outcomes.length - failed} uploaded, ${failed} failed\n`);
      return failed === 0 ? 0 : 1;
    }
    case "demo": {
      const { values } = parseArgs({
        args: rest,
        options: { site: { type: "string", default: "tst" }, count: { type: "string" }, api: { type: "string" }, token: { type: "string" } },
      });
      if (!SITE_PATTERN.test(values.site)) throw new UsageError("--site is 3 to 6 letters or digits");
      const options = { ...target(values), site: values.site, count: positiveInteger(values.count, "count", 3) };
      const { exposures, outcomes } = await uploadDemo(options, process.stderr);
      const failed = outcomes.filter((outcome) => outcome.error !== undefined).length;
      process.stderr.write(
        failed === 0
          ? `${exposures.length} exposures uploaded to ${options.api} for site ${options.site}; see ${options.api}/?site=${options.site}\n`
          : `${failed} of ${outcomes.length} files failed\n`,
      );
      return failed === 0 ? 0 : 1;
    }
    case "dlq": {
      const [action, ...more] = rest;
      const { values, positionals } = parseArgs({
        args: more,
        allowPositionals: true,
        options: { api: { type: "string" }, queue: { type: "string" } },
      });
      if (values.api !== undefined && values.queue !== undefined) throw new UsageError("dlq takes --api or --queue, not both");
      const deadLetters: DeadLetterTarget = values.queue !== undefined ? { queueUrl: values.queue } : { api: target(values).api };
      if (action === "list") {
        if (positionals.length > 0) throw new UsageError("dlq list takes no arguments");
        const listing = await listDeadLetters(deadLetters);
        process.stdout.write(`${JSON.stringify(listing, null, 2)}\n`);
        process.stderr.write(`${listing.count} dead letter(s)\n`);
        return 0;
      }
      if (action === "redrive") {
        process.stderr.write(`${await redriveDeadLetters(deadLetters, positionals)}\n`);
        return 0;
      }
      throw new UsageError("dlq takes list or redrive");
    }
    case "gaps": {
      const { values } = parseArgs({
        args: rest,
        options: { site: { type: "string" }, day: { type: "string" }, json: { type: "boolean", default: false }, api: { type: "string" }, token: { type: "string" } },
      });
      if (values.site === undefined || !SITE_PATTERN.test(values.site)) throw new UsageError("--site is 3 to 6 letters or digits");
      if (values.day === undefined || !/^\d{8}$/.test(values.day)) throw new UsageError("--day is YYYYMMDD");
      const gaps = await fetchGaps(target(values), values.site, values.day);
      process.stdout.write(`${values.json ? JSON.stringify(gaps, null, 2) : formatGaps(gaps)}\n`);
      return 0;
    }
    case "expire": {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          "dry-run": { type: "boolean", default: false },
          site: { type: "string" },
          json: { type: "boolean", default: false },
          api: { type: "string" },
          token: { type: "string" },
        },
      });
      if (!values["dry-run"]) throw new UsageError("expire offers only --dry-run: deleting is the job of DynamoDB's TTL and the sweep");
      if (positionals.length > 0) throw new UsageError("expire takes no arguments");
      if (values.site !== undefined && !SITE_PATTERN.test(values.site)) throw new UsageError("--site is 3 to 6 letters or digits");
      const plan = await fetchExpiryPlan(target(values), values.site);
      process.stdout.write(`${values.json ? JSON.stringify(plan, null, 2) : formatExpiryPlan(plan)}\n`);
      return 0;
    }
    case "pin":
    case "unpin": {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { note: { type: "string" }, api: { type: "string" }, token: { type: "string" } },
      });
      const [base, ...extra] = positionals;
      if (base === undefined || extra.length > 0) throw new UsageError(`${command} needs exactly one base filename`);
      if (command === "pin") {
        const pin = await pinExposure(target(values), base, values.note);
        process.stdout.write(`${pin.base_filename} pinned by ${pin.pinned_by} at ${pin.pinned_at}: kept past its expiry until unpinned\n`);
        return 0;
      }
      if (values.note !== undefined) throw new UsageError("--note is for pin");
      process.stdout.write(`${formatUnpinned(await unpinExposure(target(values), base))}\n`);
      return 0;
    }
    case "status":
    case "stuck": {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { stuck: { type: "boolean", default: false }, site: { type: "string" }, json: { type: "boolean", default: false }, api: { type: "string" }, token: { type: "string" } },
      });
      if (command === "stuck" || values.stuck) {
        if (positionals.length > 0) throw new UsageError("stuck takes no base filename");
        if (values.site !== undefined && !SITE_PATTERN.test(values.site)) throw new UsageError("--site is 3 to 6 letters or digits");
        const stuck = await fetchStuck(target(values), values.site);
        process.stdout.write(`${values.json ? JSON.stringify(stuck, null, 2) : formatStuck(stuck)}\n`);
        return 0;
      }
      const [baseFilename, ...extra] = positionals;
      if (baseFilename === undefined || extra.length > 0 || values.site !== undefined) throw new UsageError("status needs exactly one base filename, or --stuck");
      const status = await fetchStatus(target(values), baseFilename);
      process.stdout.write(`${values.json ? JSON.stringify(status, null, 2) : formatStatus(status)}\n`);
      return 0;
    }
    case "quarantine": {
      const [action, ...args] = rest;
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: { site: { type: "string" }, since: { type: "string" }, json: { type: "boolean", default: false }, api: { type: "string" }, token: { type: "string" } },
      });
      const print = (value: unknown, text: string) => process.stdout.write(`${values.json ? JSON.stringify(value, null, 2) : text}\n`);
      if (action === "list" && positionals.length === 0) {
        if (values.site !== undefined && !SITE_PATTERN.test(values.site)) throw new UsageError("--site is 3 to 6 letters or digits");
        const objects = await fetchQuarantine(target(values), { ...(values.site ? { site: values.site } : {}), ...(values.since ? { since: values.since } : {}) });
        print(objects, formatQuarantine(objects));
        return 0;
      }
      if (action === "show" && positionals.length === 1 && positionals[0] !== undefined) {
        const object = await fetchQuarantined(target(values), positionals[0]);
        print(object, formatQuarantined(object));
        return 0;
      }
      throw new UsageError("quarantine takes list, or show with one KEY");
    }
    case "reingest": {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { since: { type: "string" }, "all-quarantined": { type: "boolean", default: false }, json: { type: "boolean", default: false }, api: { type: "string" }, token: { type: "string" } },
      });
      const quarantined = values["all-quarantined"] || values.since !== undefined;
      if (quarantined === positionals.length > 0) throw new UsageError("reingest takes KEY…, or --since T / --all-quarantined");
      const reply = await requestReingest(
        target(values),
        quarantined ? { quarantined: true, ...(values.since ? { since: values.since } : {}) } : { keys: positionals },
      );
      process.stdout.write(`${values.json ? JSON.stringify(reply, null, 2) : formatReingest(reply)}\n`);
      return reply.gone + reply.refused > 0 ? 1 : 0;
    }
    case "reconcile": {
      const { values } = parseArgs({
        args: rest,
        options: { since: { type: "string" }, "dry-run": { type: "boolean", default: false }, json: { type: "boolean", default: false }, api: { type: "string" }, token: { type: "string" } },
      });
      const reply = await requestReconcile(target(values), { ...(values.since ? { since: values.since } : {}), dryRun: values["dry-run"] });
      process.stdout.write(`${values.json ? JSON.stringify(reply, null, 2) : formatReconcile(reply)}\n`);
      return 0;
    }
    case "header": {
      const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
      const [path, ...extra] = positionals;
      if (path === undefined || extra.length > 0) throw new UsageError("header needs exactly one file");
      process.stdout.write(`${await headerJson(path)}\n`);
      return 0;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 1 : 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (error) {
  // Bad arguments and unreadable files get one line and the usage; anything else is a bug and keeps its stack.
  if (error instanceof UsageError || (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"))) {
    process.stderr.write(`archive: ${error.message}\n\n${USAGE}\n`);
    process.exitCode = 2;
  } else if (error instanceof RangeError || error instanceof ArchiveError || (error instanceof Error && "code" in error && error.code === "ENOENT")) {
    process.stderr.write(`archive: ${error.message}\n`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
