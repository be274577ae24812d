import { describe, expect, it } from "vitest";
import { costOf, FIXED_SERVICES, sumOf } from "../../bench/fleet/costs";
import { simulateFleet } from "../../bench/fleet/fleet";
import { ARCHIVE, EXPOSURE_UPLOADS, FLEET, REPLACED, type FleetInputs } from "../../bench/fleet/inputs";
import { simulateNight, withConcurrency, type DesignRun } from "../../bench/fleet/model";

/** A small night: 3 sites for an hour, ~3,000 objects. */
const small = { sites: 3, hours: 1, seed: 7 };
const quiet: FleetInputs = { ...FLEET, bursts: [] };
/** Every site sends 10 objects a second for a while: more than two instances take (~18 objects/s). */
const burst = (durationFraction: number): FleetInputs => ({
  ...FLEET,
  burstObjectsPerSitePerS: 10,
  bursts: [{ startFraction: 0.4, durationFraction }],
});

describe("the fleet simulation", () => {
  it("processes every object exactly once: each upload, and the thumbnail of each medium jpg", () => {
    // Prepare / Act
    const runs = [ARCHIVE, REPLACED].map((design) => simulateNight(design, { ...small, fleet: FLEET }));

    // Assess
    for (const run of runs) {
      expect(run.exposures).toBeGreaterThan(500);
      expect(run.objects.uploads).toBe(run.exposures * EXPOSURE_UPLOADS.length);
      expect(run.objects.thumbnails).toBe(run.exposures);
      expect(run.objects.created).toBe(run.objects.uploads + run.objects.thumbnails);
      expect(run.objects.processed).toBe(run.objects.created);
      expect(run.objects.processedTwice).toBe(0);
    }
    expect(runs[0]?.objects.created).toBe(runs[1]?.objects.created);
  });

  it("keeps an event's wait within the batching window while arrivals stay below what the function takes", () => {
    // Prepare / Act
    const archive = simulateNight(ARCHIVE, { ...small, fleet: quiet });
    const replaced = simulateNight(REPLACED, { ...small, fleet: quiet });

    // Assess
    expect(archive.queueAgeS.max).toBeLessThanOrEqual(1.001);
    expect(archive.concurrency.peak).toBeLessThan(ARCHIVE.delivery.maxConcurrency);
    expect(replaced.queueAgeS.max).toBe(0);
  });

  it("makes events wait when a burst exceeds the concurrency cap, the longer the burst the longer the wait", () => {
    // Prepare
    const capped = withConcurrency(ARCHIVE, 2);

    // Act
    const short = simulateNight(capped, { ...small, fleet: burst(0.02) });
    const long = simulateNight(capped, { ...small, fleet: burst(0.05) });

    // Assess
    expect(short.concurrency.peak).toBe(2);
    expect(short.queueAgeS.p99).toBeGreaterThan(10);
    expect(long.queueAgeS.max).toBeGreaterThan(2 * short.queueAgeS.max);
    expect(long.objects.processed).toBe(long.objects.created);
  });

  it("never holds more Postgres connections than the ingest concurrency cap, even when the cap binds", () => {
    // Prepare / Act
    const runs = [2, 5].map((cap) => ({ cap, run: simulateNight(withConcurrency(ARCHIVE, cap), { ...small, fleet: burst(0.05) }) }));

    // Assess
    for (const { cap, run } of runs) {
      expect(run.concurrency.peak).toBe(cap);
      expect(run.connections.peak).toBe(cap);
      expect(run.connections.opened).toBeGreaterThanOrEqual(cap);
    }
  });

  it("costs in proportion to the objects: twice the night, twice the objects, twice the bill", () => {
    // Prepare / Act
    const variableCost = (run: DesignRun) => sumOf(costOf(ARCHIVE, run, FLEET), FIXED_SERVICES);
    const fixedCost = (run: DesignRun) => sumOf(costOf(ARCHIVE, run, FLEET)) - variableCost(run);
    const one = simulateNight(ARCHIVE, { ...small, fleet: FLEET });
    const two = simulateNight(ARCHIVE, { ...small, hours: 2, fleet: FLEET });

    // Assess
    const perObject = (run: DesignRun) => variableCost(run) / run.objects.created;
    expect(two.objects.created / one.objects.created).toBeGreaterThan(1.8);
    expect(Math.abs(perObject(two) / perObject(one) - 1)).toBeLessThan(0.02);
    expect(fixedCost(two) / fixedCost(one)).toBeCloseTo(2, 6);
  });

  it("gives the same report for the same seed, and other arrivals for another", () => {
    // Prepare / Act
    const first = simulateFleet(small);
    const again = simulateFleet(small);
    const other = simulateNight(ARCHIVE, { ...small, seed: small.seed + 1, fleet: FLEET });

    // Assess
    expect(again).toEqual(first);
    expect(other.objects.created).not.toBe(first.archive.run.objects.created);
  });
});
