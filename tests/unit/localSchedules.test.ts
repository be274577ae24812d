import { afterEach, describe, expect, it } from "vitest";
import { startSchedules, type LocalSchedules } from "@archive/local/schedules";

// The local archive's stand-in for the stage's scheduled rules: jobs run at start when asked, on demand, one run of a
// job at a time, and a failing job is kept for /health without stopping the others.
describe("local scheduled jobs", () => {
  let schedules: LocalSchedules | undefined;
  afterEach(async () => schedules?.stop());

  it("runs a job at start and keeps its result as its last run", async () => {
    let runs = 0;
    schedules = startSchedules([{ name: "count", everyMs: 3_600_000, atStart: true, run: async () => ++runs }]);

    const run = await schedules.runNow("count");

    expect(run).toMatchObject({ name: "count", result: 1 });
    expect(runs).toBe(1);
    expect(schedules.lastRuns()).toEqual([run]);
  });

  it("runs each job every interval", async () => {
    let runs = 0;
    schedules = startSchedules([{ name: "often", everyMs: 20, atStart: false, run: async () => ++runs }]);

    await new Promise((resolve) => setTimeout(resolve, 150));

    expect(runs).toBeGreaterThanOrEqual(2);
  });

  it("keeps a failure as the job's last run, and another job still runs", async () => {
    schedules = startSchedules([
      { name: "broken", everyMs: 3_600_000, atStart: false, run: () => Promise.reject(new Error("database is down")) },
      { name: "fine", everyMs: 3_600_000, atStart: false, run: async () => "ok" },
    ]);

    const broken = await schedules.runNow("broken");
    const fine = await schedules.runNow("fine");

    expect(broken.error).toContain("database is down");
    expect(fine.result).toBe("ok");
  });

  it("never runs two of one job at once: a second request joins the run in progress", async () => {
    let concurrent = 0;
    let most = 0;
    schedules = startSchedules([
      {
        name: "slow",
        everyMs: 3_600_000,
        atStart: false,
        run: async () => {
          most = Math.max(most, ++concurrent);
          await new Promise((resolve) => setTimeout(resolve, 30));
          concurrent -= 1;
        },
      },
    ]);

    const [first, second] = await Promise.all([schedules.runNow("slow"), schedules.runNow("slow")]);

    expect(most).toBe(1);
    expect(second).toBe(first);
  });

  it("refuses a job it does not have", async () => {
    schedules = startSchedules([]);

    await expect(schedules.runNow("nothing")).rejects.toThrow("no scheduled job nothing");
  });
});
