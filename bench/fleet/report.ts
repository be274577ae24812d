import { formatNumber } from "../harness";
import { SERVICES, sumOf } from "./costs";
import type { DesignReport, FleetReport } from "./fleet";
import { DATABASE, LATENCY, OBJECT_FILES, OBJECT_KINDS, type CallType, type ObjectKind } from "./inputs";
import type { DesignRun } from "./model";
import { PRICES } from "./prices";

function table(header: readonly string[], align: readonly ("l" | "r")[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(align.map((a) => (a === "r" ? "---:" : "---"))), ...rows.map(line)].join("\n");
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const seconds = (s: number) => (s < 10 ? s.toFixed(2) : s.toFixed(1));
const usd = (n: number) => `$${n.toFixed(n >= 10 ? 2 : 3)}`;
const perObject = (run: DesignRun, n: number) => (n / Math.max(1, run.objects.created)).toFixed(2);
const billedMsPerObject = (r: DesignReport) =>
  (r.run.billedGbS * 1000 * 1024) / r.design.lambda.memoryMb / Math.max(1, r.run.objects.created);

function describeLoad(r: FleetReport): string {
  const run = r.archive.run;
  const delivery = r.archive.design.delivery;
  const settings =
    delivery.kind === "sqs"
      ? `ingestData ${r.archive.design.lambda.memoryMb} MB ${r.archive.design.lambda.architecture}, SQS batches of ${delivery.batchSize}, ` +
        `${delivery.batchingWindowS} s window, maximum concurrency ${delivery.maxConcurrency}, events through ${delivery.objectEvents}`
      : "";
  return [
    `Fleet model: ${r.sites} sites, ${r.hours} h, seed ${r.seed}. ${settings}.`,
    `Load: ${int(run.objects.created)} objects (${int(run.exposures)} exposures: ${int(run.objects.uploads)} uploads + ` +
      `${int(run.objects.thumbnails)} thumbnails), ${formatNumber(run.objects.created / run.periodS)}/s on average, ` +
      `${int(run.peakArrivalsPerS)} in the busiest second (bursts: ${r.fleet.burstObjectsPerSitePerS} objects/s a site).`,
  ].join("\n\n");
}

function comparison(r: FleetReport): string {
  const rows: [string, (d: DesignReport) => string][] = [
    ["Lambda invocations (objects per invocation)", (d) => `${int(d.run.invocations)} (${(d.run.objects.created / d.run.invocations).toFixed(1)})`],
    ["Lambda concurrency: peak / p99 / mean", (d) => `${d.run.concurrency.peak} / ${d.run.concurrency.p99} / ${d.run.concurrency.mean.toFixed(1)}`],
    ["cold starts", (d) => int(d.run.coldStarts)],
    ["billed Lambda ms per object", (d) => billedMsPerObject(d).toFixed(0)],
    ["Postgres connections: peak / p99", (d) => `${d.run.connections.peak} / ${d.run.connections.p99}`],
    ["Postgres connections opened per object", (d) => (d.run.connections.opened / Math.max(1, d.run.objects.created)).toFixed(4)],
    ["Postgres CPU asked, of 2 vCPUs: mean / busiest minute", (d) => `${(d.run.dbCpu.mean * 100).toFixed(1)}% / ${(d.run.dbCpu.peakMinute * 100).toFixed(0)}%`],
    ["queue age p50 / p99 / max (s)", (d) => [d.run.queueAgeS.p50, d.run.queueAgeS.p99, d.run.queueAgeS.max].map(seconds).join(" / ")],
    ["upload → processed p50 / p99 / max (s)", (d) => [d.run.endToEndS.p50, d.run.endToEndS.p99, d.run.endToEndS.max].map(seconds).join(" / ")],
    ["FITS processed before their header", (d) => int(d.run.objects.headerMissing)],
    [
      "processed once / twice / never",
      (d) => `${int(d.run.objects.processed - d.run.objects.processedTwice)} / ${int(d.run.objects.processedTwice)} / ${int(d.run.objects.created - d.run.objects.processed)}`,
    ],
  ];
  return table(["", r.archive.design.name, r.replaced.design.name], ["l", "r", "r"], rows.map(([label, f]) => [label, f(r.archive), f(r.replaced)]));
}

function costs(r: FleetReport): string {
  const rows = SERVICES.map((s) => [s, usd(r.archive.costPerMillion[s]), usd(r.replaced.costPerMillion[s])]);
  const total = (d: DesignReport) => usd(sumOf(d.costPerMillion));
  const own = (d: DesignReport) => usd(sumOf(d.costPerMillion, ["S3 POST (the sites' uploads)"]));
  rows.push(["**total**", `**${total(r.archive)}**`, `**${total(r.replaced)}**`]);
  rows.push(["total without the sites' uploads", own(r.archive), own(r.replaced)]);
  return table(["per million objects", r.archive.design.name, r.replaced.design.name], ["l", "r", "r"], rows);
}

const CALL_LABELS: Record<CallType, string> = {
  dynamoWrite: "DynamoDB writes",
  dynamoRead: "DynamoDB reads",
  s3Head: "S3 HEAD",
  s3Get: "S3 GET",
  s3Put: "S3 PUT",
  sqsRequest: "SQS requests (handler)",
  sql: "SQL statements (held connection)",
  dbSession: "Postgres connections opened",
  sdkClient: "SDK clients created",
  cpu: "CPU-only steps",
};

const AWS_CALLS: ReadonlySet<CallType> = new Set(["dynamoWrite", "dynamoRead", "s3Head", "s3Get", "s3Put", "sqsRequest"]);

/** An object's steps that always run: AWS calls, and Postgres statements or connections. */
function callsOfKind(d: DesignReport, kind: ObjectKind): string {
  const steps = d.design.steps[kind].filter((s) => !("when" in s));
  const aws = steps.filter((s) => AWS_CALLS.has(s.call)).length;
  const sql = steps.filter((s) => s.call === "sql").length;
  const sessions = steps.filter((s) => s.call === "dbSession").length;
  return `${aws} AWS + ${sql > 0 ? `${sql} SQL` : `${sessions} connection${sessions > 1 ? "s" : ""}`}`;
}

function calls(r: FleetReport): string {
  const types = (Object.keys(CALL_LABELS) as CallType[]).filter(
    (c) => c !== "cpu" && (r.archive.run.calls[c] > 0 || r.replaced.run.calls[c] > 0),
  );
  return [
    table(
      ["per object (mean over the night)", r.archive.design.name, r.replaced.design.name],
      ["l", "r", "r"],
      types.map((c) => [CALL_LABELS[c], perObject(r.archive.run, r.archive.run.calls[c]), perObject(r.replaced.run, r.replaced.run.calls[c])]),
    ),
    "",
    table(
      ["calls of each object (besides expiring and header-missing ones)", r.archive.design.name, r.replaced.design.name],
      ["l", "r", "r"],
      OBJECT_KINDS.map((k) => [OBJECT_FILES[k], callsOfKind(r.archive, k), callsOfKind(r.replaced, k)]),
    ),
  ].join("\n");
}

function limits(r: FleetReport): string {
  const note =
    "Rates are what the fleet's bursts ask (objects a second × calls an object); the capped archive never passes more " +
    "than its cap lets through, so its DynamoDB, S3 and Postgres CPU rows say where they bind once the cap is raised.";
  return `${table(
    ["AWS limit", `${r.archive.design.name} at ${r.sites} sites`, "binds at", `${r.replaced.design.name} at ${r.sites} sites`, "binds at"],
    ["l", "l", "l", "l", "l"],
    r.limits.map((l) => [l.limit, l.archive, l.archiveBindsAt, l.replaced, l.replacedBindsAt]),
  )}\n\n${note}`;
}

/** The report of one fleet size, as markdown (docs/scale.md pastes it). */
export function formatFleetReport(r: FleetReport): string {
  const saturated = r.replaced.run.dbCpu.mean > 1 || r.replaced.run.dbCpu.peakMinute > 1;
  return [
    describeLoad(r),
    "",
    comparison(r),
    ...(saturated
      ? [
          "",
          `The replaced design asks more of Postgres than its ${DATABASE.vcpus} vCPUs give (every lookup scans the table): its ` +
            "latencies, concurrency and connections above are lower bounds, as the model does not queue work on the database.",
        ]
      : []),
    "",
    `Cost per million objects (${PRICES.asOf}):`,
    "",
    costs(r),
    "",
    calls(r),
    "",
    limits(r),
  ].join("\n");
}

/** One row per fleet size. */
export function formatSweep(reports: readonly FleetReport[]): string {
  const rows = reports.map((r) => {
    const a = r.archive.run;
    const b = r.replaced.run;
    const drain = Math.max(0, a.lastDoneS - a.periodS - LATENCY.notificationDelayS);
    return [
      int(r.sites),
      formatNumber(a.objects.created),
      int(a.peakArrivalsPerS),
      `${a.concurrency.peak} / ${a.concurrency.p99}`,
      String(a.connections.peak),
      seconds(a.queueAgeS.p99),
      seconds(a.queueAgeS.max),
      seconds(drain),
      usd(sumOf(r.archive.costPerMillion)),
      `${b.concurrency.peak} / ${b.concurrency.p99}`,
      String(b.connections.peak),
      `${(b.dbCpu.mean * 100).toFixed(0)}%`,
      usd(sumOf(r.replaced.costPerMillion)),
    ];
  });
  return table(
    [
      "sites",
      "objects",
      "busiest second",
      "archive: concurrency peak / p99",
      "connections",
      "queue age p99 (s)",
      "max (s)",
      "backlog after the night (s)",
      "$ per M objects",
      "replaced: concurrency peak / p99",
      "connections",
      "Postgres CPU (mean)",
      "$ per M objects",
    ],
    ["r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
    rows,
  );
}
