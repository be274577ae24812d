import { costPerMillion, type Service } from "./costs";
import { ARCHIVE, FLEET, REPLACED_TABLE_ROWS, replacedDesign, type DesignInputs, type FleetInputs } from "./inputs";
import { limitsOf, type LimitRow } from "./limits";
import { simulateNight, withConcurrency, type DesignRun } from "./model";

export interface FleetOptions {
  sites: number;
  hours: number;
  seed: number;
  /** ingestData's maximum concurrency; the stage's (prod) when not given. */
  ingestConcurrency?: number;
  /** Rows of the replaced design's `images` table (its lookups scan them); REPLACED_TABLE_ROWS when not given. */
  replacedTableRows?: number;
  fleet?: FleetInputs;
}

export interface DesignReport {
  design: DesignInputs;
  run: DesignRun;
  costPerMillion: Record<Service, number>;
}

export interface FleetReport {
  sites: number;
  hours: number;
  seed: number;
  fleet: FleetInputs;
  archive: DesignReport;
  replaced: DesignReport;
  limits: LimitRow[];
}

/** One night of the fleet through this archive and through the replaced design, on the same arrivals. */
export function simulateFleet(options: FleetOptions): FleetReport {
  const fleet = options.fleet ?? FLEET;
  const night = { sites: options.sites, hours: options.hours, seed: options.seed, fleet };
  const archiveDesign = options.ingestConcurrency === undefined ? ARCHIVE : withConcurrency(ARCHIVE, options.ingestConcurrency);
  const report = (design: DesignInputs): DesignReport => {
    const run = simulateNight(design, night);
    return { design, run, costPerMillion: costPerMillion(design, run, fleet) };
  };
  const archive = report(archiveDesign);
  const replaced = report(replacedDesign(options.replacedTableRows ?? REPLACED_TABLE_ROWS));
  return {
    ...night,
    archive,
    replaced,
    limits: limitsOf(options.sites, { design: archiveDesign, run: archive.run }, replaced.run, fleet),
  };
}
