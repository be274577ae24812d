import type { DesignInputs, FleetInputs } from "./inputs";
import type { DesignRun } from "./model";
import { PRICES } from "./prices";

export const SERVICES = [
  "Lambda GB-s",
  "Lambda requests",
  "SQS requests",
  "SQS idle polling",
  "DynamoDB writes",
  "DynamoDB reads",
  "S3 PUT (thumbnails)",
  "S3 GET + HEAD",
  "EventBridge events",
  "RDS instance-hours (share)",
  "S3 POST (the sites' uploads)",
] as const;
export type Service = (typeof SERVICES)[number];

/** What a day costs however few objects come: the pollers' empty receives and the database instance. */
export const FIXED_SERVICES: readonly Service[] = ["SQS idle polling", "RDS instance-hours (share)"];

/** What a run costs, by service, in USD (list prices, prices.ts). A night is a day's uploads: daily fixed costs are theirs. */
export function costOf(design: DesignInputs, run: DesignRun, fleet: FleetInputs): Record<Service, number> {
  const { lambda, sqsRequest, dynamodb, s3, eventBridgeEvent, rdsInstanceHour } = PRICES;
  const dayShare = run.periodS / (fleet.nightHours * 3600);
  const delivery = design.delivery;
  const idleReceives = delivery.kind === "sqs" ? delivery.idleReceivesPerDay * dayShare : 0;
  const sqs = run.sqs.queueSends + run.sqs.receives + run.sqs.deletes + run.calls.sqsRequest;
  const writes = Object.values(run.writesByTable).reduce((sum, n) => sum + n, 0);
  const viaEventBridge = delivery.kind === "sqs" && delivery.objectEvents === "eventbridge";
  return {
    "Lambda GB-s": run.billedGbS * (design.lambda.architecture === "arm64" ? lambda.arm64GbS : lambda.x86_64GbS),
    "Lambda requests": run.invocations * lambda.request,
    "SQS requests": sqs * sqsRequest,
    "SQS idle polling": idleReceives * sqsRequest,
    "DynamoDB writes": writes * dynamodb.writeUnit,
    // ReturnValues on an update costs no read unit; today neither design reads on its ingest path.
    "DynamoDB reads": run.calls.dynamoRead * dynamodb.readUnit,
    "S3 PUT (thumbnails)": run.calls.s3Put * s3.putClass,
    "S3 GET + HEAD": (run.calls.s3Get + run.calls.s3Head) * s3.getClass,
    "EventBridge events": viaEventBridge ? run.objects.created * eventBridgeEvent : 0,
    "RDS instance-hours (share)": 24 * dayShare * rdsInstanceHour,
    "S3 POST (the sites' uploads)": run.objects.uploads * s3.putClass,
  };
}

/** The same, per million objects processed. */
export function costPerMillion(design: DesignInputs, run: DesignRun, fleet: FleetInputs): Record<Service, number> {
  const total = costOf(design, run, fleet);
  const perMillion = 1e6 / Math.max(1, run.objects.created);
  return Object.fromEntries(SERVICES.map((s) => [s, total[s] * perMillion])) as Record<Service, number>;
}

export const sumOf = (costs: Record<Service, number>, except: readonly Service[] = []): number =>
  SERVICES.filter((s) => !except.includes(s)).reduce((sum, s) => sum + costs[s], 0);
