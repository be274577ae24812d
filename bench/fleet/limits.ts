import { AWS_LIMITS, DATABASE, OTHER_CONSUMERS_CONCURRENCY, type DesignInputs, type DynamoTable, type FleetInputs } from "./inputs";
import type { DesignRun } from "./model";

/** One AWS limit: what each design uses of it at the simulated fleet size, and at what fleet size it binds. */
export interface LimitRow {
  limit: string;
  archive: string;
  archiveBindsAt: string;
  replaced: string;
  replacedBindsAt: string;
}

const NEVER = "never (not by fleet size)";

/** Two significant digits: an extrapolation is no more precise than that. */
export function sitesLabel(sites: number): string {
  if (!Number.isFinite(sites)) return NEVER;
  const magnitude = 10 ** Math.max(0, Math.floor(Math.log10(Math.max(1, sites))) - 1);
  return `≈ ${(Math.round(sites / magnitude) * magnitude).toLocaleString("en-US")} sites`;
}

const percent = (fraction: number): string => `${(fraction * 100).toFixed(fraction < 0.1 ? 1 : 0)}%`;
const int = (n: number): string => Math.round(n).toLocaleString("en-US");

/**
 * Where each limit binds. Rates a fleet asks of a service grow with its sites: the limit is divided by what one site
 * asks in a burst (its objects a second × the design's calls per object, from the run). Concurrency and connections
 * of the uncapped replaced design scale from their simulated peaks. The archive's capped function never asks more
 * than its cap lets through: its rows say where the limit would bind once the cap is raised to keep up.
 */
export function limitsOf(
  sites: number,
  archive: { design: DesignInputs; run: DesignRun },
  replaced: DesignRun,
  fleet: FleetInputs,
): LimitRow[] {
  const run = archive.run;
  const cap = archive.design.delivery.maxConcurrency;
  const burstPerSite = fleet.burstObjectsPerSitePerS;
  const meanPerSite = fleet.objectsPerSitePerNight / (fleet.nightHours * 3600);
  const perObject = (r: DesignRun, n: number) => n / Math.max(1, r.objects.created);
  // Sites whose bursts ask `limit` per second, at `use` per object.
  const sitesAt = (limit: number, use: number, perSite = burstPerSite) => (use > 0 ? limit / (use * perSite) : Infinity);
  const fromPeak = (limit: number, peak: number) => (peak > 0 ? (sites * limit) / peak : Infinity);

  // Busy seconds of the function per object: the cap divided by it is what the capped function takes per second.
  const busyPerObject = perObject(run, run.concurrency.mean * Math.max(run.periodS, run.lastDoneS));
  const capacityPerS = cap / busyPerObject;
  const others = DATABASE.otherConsumers.expireData + DATABASE.otherConsumers.sweepExpirations;

  const dbCpu = (r: DesignRun) => {
    const msPerObject = perObject(r, r.dbCpu.ms);
    const vcpuMs = DATABASE.vcpus * 1000;
    return {
      use: `${msPerObject.toFixed(2)} ms an object: ${percent(r.dbCpu.mean)} mean, ${percent(r.dbCpu.peakMinute)} busiest minute`,
      bindsAt: `bursts ${sitesLabel(sitesAt(vcpuMs, msPerObject))}; the night's mean ${sitesLabel(sitesAt(vcpuMs, msPerObject, meanPerSite))}`,
    };
  };
  const table = (r: DesignRun, name: DynamoTable) => {
    const writes = perObject(r, r.writesByTable[name]);
    return {
      use: `${name}: ${writes.toFixed(2)} writes an object, ${int(writes * burstPerSite * sites)} WRU/s in bursts`,
      bindsAt: sitesLabel(sitesAt(AWS_LIMITS.onDemandNewTableWriteUnitsPerS, writes)),
    };
  };
  // The uploads and the thumbnails are PUTs under data/: one PUT-class request an object in either design.
  const s3 = (r: DesignRun) => {
    const gets = perObject(r, r.calls.s3Get + r.calls.s3Head);
    return {
      use: `1 PUT and ${gets.toFixed(2)} GET+HEAD an object: ${int(burstPerSite * sites)} PUT/s in bursts`,
      bindsAt: sitesLabel(Math.min(sitesAt(AWS_LIMITS.s3PutPerPrefixPerS, 1), sitesAt(AWS_LIMITS.s3GetPerPrefixPerS, gets))),
    };
  };
  const archiveDb = dbCpu(run);
  const replacedDb = dbCpu(replaced);
  const archiveTable = table(run, "object-deliveries");
  const replacedTable = table(replaced, "recent-uploads-log");
  const archiveS3 = s3(run);
  const replacedS3 = s3(replaced);
  const partitionKey = {
    limit: `DynamoDB partition key: ${int(AWS_LIMITS.partitionWriteUnitsPerS)} WCU/s (recent-uploads-log is keyed by site)`,
    bindsAt: `${NEVER}: one site sending more than ${int(AWS_LIMITS.partitionWriteUnitsPerS)} objects/s`,
  };
  return [
    {
      limit: `Lambda concurrency: account ${int(AWS_LIMITS.accountConcurrency)}, +${int(AWS_LIMITS.scalingPer10S)} per function per 10 s`,
      archive: `peak ${run.concurrency.peak}; all event consumers ≤ ${cap + OTHER_CONSUMERS_CONCURRENCY}`,
      archiveBindsAt: `${NEVER}: capped`,
      replaced: `peak ${replaced.concurrency.peak}`,
      replacedBindsAt: sitesLabel(fromPeak(AWS_LIMITS.accountConcurrency, replaced.concurrency.peak)),
    },
    {
      limit: `ingestData's maximum concurrency ${cap} (= its Postgres connections)`,
      archive: `takes ${int(capacityPerS)} objects/s; queue age p99 ${run.queueAgeS.p99.toFixed(1)} s`,
      archiveBindsAt: `bursts (${burstPerSite}/s a site) ${sitesLabel(capacityPerS / burstPerSite)}; the night's mean ${sitesLabel(capacityPerS / meanPerSite)}`,
      replaced: "no cap",
      replacedBindsAt: "—",
    },
    {
      limit: `Postgres connections: budget ${DATABASE.connectionBudget}, max_connections ≈ ${DATABASE.maxConnections}`,
      archive: `ingest ${run.connections.peak} + expireData, sweep ${others} = ${run.connections.peak + others}`,
      archiveBindsAt: `${NEVER}: the cap holds it`,
      replaced: `peak ${replaced.connections.peak} (p99 ${replaced.connections.p99}), ${perObject(replaced, replaced.connections.opened).toFixed(2)} opened an object`,
      replacedBindsAt: `${DATABASE.connectionBudget}: ${sitesLabel(fromPeak(DATABASE.connectionBudget, replaced.connections.peak))}; ${DATABASE.maxConnections}: ${sitesLabel(fromPeak(DATABASE.maxConnections, replaced.connections.peak))}`,
    },
    {
      limit: `Postgres CPU: ${DATABASE.instanceClass}, ${DATABASE.vcpus} vCPUs`,
      archive: archiveDb.use,
      archiveBindsAt: archiveDb.bindsAt,
      replaced: replacedDb.use,
      replacedBindsAt: replacedDb.bindsAt,
    },
    {
      limit: partitionKey.limit,
      archive: `busiest site-second ${run.peakSiteWritesPerS} writes`,
      archiveBindsAt: partitionKey.bindsAt,
      replaced: `busiest site-second ${replaced.peakSiteWritesPerS} writes`,
      replacedBindsAt: partitionKey.bindsAt,
    },
    {
      limit: `DynamoDB new on-demand table: ${int(AWS_LIMITS.onDemandNewTableWriteUnitsPerS)} WRU/s until it adapts`,
      archive: archiveTable.use,
      archiveBindsAt: archiveTable.bindsAt,
      replaced: replacedTable.use,
      replacedBindsAt: replacedTable.bindsAt,
    },
    {
      limit: `S3 per prefix: ${int(AWS_LIMITS.s3PutPerPrefixPerS)} PUT/s, ${int(AWS_LIMITS.s3GetPerPrefixPerS)} GET/s (until S3 splits data/)`,
      archive: archiveS3.use,
      archiveBindsAt: archiveS3.bindsAt,
      replaced: replacedS3.use,
      replacedBindsAt: replacedS3.bindsAt,
    },
  ];
}
