import { logger } from "./log";

/**
 * The stage's scheduled functions (EventBridge rules in AWS: the daily counter-gap count, …) on a laptop: each job runs
 * at start when asked, then every `everyMs`, never two runs of one job at once. Each job's last outcome is kept for
 * /health, as the functions' logs and metrics are in AWS.
 */
export interface LocalSchedule {
  name: string;
  everyMs: number;
  /** Run once as the archive starts (a laptop is off at the hour a rule would have fired). */
  atStart: boolean;
  run(now: Date): Promise<unknown>;
}

export interface ScheduleRun {
  name: string;
  startedAt: string;
  milliseconds: number;
  result?: unknown;
  error?: string;
}

export interface LocalSchedules {
  /** Runs a job now (or waits for its run in progress) and returns that run. */
  runNow(name: string): Promise<ScheduleRun>;
  /** The last finished run of every job that has run. */
  lastRuns(): ScheduleRun[];
  stop(): Promise<void>;
}

export function startSchedules(schedules: readonly LocalSchedule[], clock: () => Date = () => new Date()): LocalSchedules {
  const lastRuns = new Map<string, ScheduleRun>();
  const running = new Map<string, Promise<ScheduleRun>>();
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;

  function runJob(job: LocalSchedule): Promise<ScheduleRun> {
    const inProgress = running.get(job.name);
    if (inProgress) return inProgress;
    const started = clock();
    const run = job
      .run(started)
      .then(
        (result): ScheduleRun => ({ name: job.name, startedAt: started.toISOString(), milliseconds: Date.now() - started.getTime(), result }),
        (error: unknown): ScheduleRun => {
          logger.error("a scheduled job failed; it runs again at its next time", { job: job.name, error: error instanceof Error ? error : String(error) });
          return { name: job.name, startedAt: started.toISOString(), milliseconds: Date.now() - started.getTime(), error: String(error) };
        },
      )
      .then((finished) => {
        lastRuns.set(job.name, finished);
        running.delete(job.name);
        return finished;
      });
    running.set(job.name, run);
    return run;
  }

  for (const job of schedules) {
    if (job.atStart) void runJob(job);
    const timer = setInterval(() => {
      if (!stopped) void runJob(job);
    }, job.everyMs);
    timer.unref();
    timers.push(timer);
  }

  return {
    runNow(name) {
      const job = schedules.find((candidate) => candidate.name === name);
      if (!job) return Promise.reject(new Error(`no scheduled job ${name}`));
      return runJob(job);
    },
    lastRuns: () => [...lastRuns.values()],
    async stop() {
      stopped = true;
      for (const timer of timers) clearInterval(timer);
      await Promise.all(running.values());
    },
  };
}
