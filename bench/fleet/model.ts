import { EventQueue } from "./eventQueue";
import {
  DATABASE,
  EXPOSURE_UPLOADS,
  LAMBDA_MB_PER_VCPU,
  LATENCY,
  LAMBDA_VCPU_SPEED,
  OBJECTS_PER_EXPOSURE,
  type CallType,
  type DesignInputs,
  type DynamoTable,
  type FleetInputs,
  type ObjectKind,
  type Step,
} from "./inputs";
import { Bins, Level, Samples } from "./measures";
import { seededRandom, type Random } from "./random";

/**
 * A discrete-event simulation of one night of a fleet: sites upload exposures (a Poisson process per site, faster in
 * the night's bursts), S3 turns each object into an event, and the design's Lambda function processes them: through
 * an SQS queue in batches under a concurrency cap (this archive), or one invocation per object (the replaced design).
 * Each record's time is the sum of its steps' latencies and CPU (inputs.ts); a medium jpg's thumbnail comes back as
 * an event of its own when its PUT completes. Deterministic: the seed fixes every draw.
 */

export interface NightOptions {
  sites: number;
  hours: number;
  seed: number;
  fleet: FleetInputs;
}

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

export interface DesignRun {
  design: string;
  periodS: number;
  exposures: number;
  objects: {
    /** Objects written: the sites' uploads and the thumbnails the function wrote back. */
    created: number;
    uploads: number;
    thumbnails: number;
    /** Objects processed at least once, and how many of them more than once. */
    processed: number;
    processedTwice: number;
    /** FITS files processed before their exposure's header was recorded (their header is read from the file). */
    headerMissing: number;
  };
  peakArrivalsPerS: number;
  invocations: number;
  coldStarts: number;
  /** Concurrent executions of the function: peak, time-weighted p99 and mean over the run. */
  concurrency: { peak: number; p99: number; mean: number };
  /** Postgres connections the function holds open: peak, time-weighted p99, and connections opened. */
  connections: { peak: number; p99: number; opened: number };
  /** Seconds an event waited in the queue (visible → handed to the function, batching window included). */
  queueAgeS: Percentiles;
  /** Seconds from the object's upload to the end of its processing. */
  endToEndS: Percentiles;
  /** When the last object was done, seconds from the start of the night. */
  lastDoneS: number;
  billedGbS: number;
  calls: Record<CallType, number>;
  writesByTable: Record<DynamoTable, number>;
  peakWritesPerS: Record<DynamoTable, number>;
  /** The largest number of recent-uploads-log writes one site (one partition key) made in one second. */
  peakSiteWritesPerS: number;
  peakS3GetPerS: number;
  /** PUT-class requests a second under data/: the sites' uploads and the thumbnails. */
  peakS3PutPerS: number;
  sqs: { queueSends: number; receives: number; deletes: number };
  /**
   * Postgres CPU the design asks for: milliseconds in all, and as a fraction of the instance's vCPUs, mean over the run
   * (the night and any backlog after it) and in the busiest minute.
   */
  dbCpu: { ms: number; mean: number; peakMinute: number };
}

interface Message {
  id: number;
  exposure: number;
  kind: ObjectKind;
  uploadedAt: number;
  visibleAt: number;
}

/** One Lambda execution environment; it holds its Postgres connection from its first use until Lambda reclaims it. */
interface Instance {
  idleSince: number;
  busy: boolean;
  reclaimed: boolean;
}

interface OpenBatch {
  messages: Message[];
  open: boolean;
}

type SimEvent =
  | { type: "exposure"; site: number }
  | { type: "arrive"; message: Message }
  | { type: "window"; batch: OpenBatch }
  | { type: "end"; instance: Instance }
  | { type: "reclaim"; instance: Instance; idleSince: number }
  | { type: "connection"; delta: number };

const FITS: ReadonlySet<ObjectKind> = new Set(["smallFits", "largeFits"]);
const TABLES: readonly DynamoTable[] = ["recent-uploads-log", "object-deliveries", "data-expiration-tracker"];
const CALLS: readonly CallType[] = ["dynamoWrite", "dynamoRead", "s3Head", "s3Get", "s3Put", "sqsRequest", "sql", "dbSession", "sdkClient", "cpu"];

/** A per-site seed: each site's night is its own stream, the same in every design and whatever else runs. */
const siteSeed = (seed: number, site: number): number => (Math.imul(seed, 0x9e3779b1) ^ Math.imul(site + 1, 0x85ebca6b)) >>> 0;

/** A growable typed array of one number per exposure or per object. */
class Column<T extends Float64Array | Uint8Array | Uint32Array> {
  constructor(
    private values: T,
    private readonly make: (length: number) => T,
  ) {}

  get(index: number): number {
    return this.values[index] ?? 0;
  }

  set(index: number, value: number): void {
    if (index >= this.values.length) {
      const larger = this.make(Math.max(index + 1, this.values.length * 2));
      larger.set(this.values);
      this.values = larger;
    }
    this.values[index] = value;
  }
}

/** When the bursts of a period are, and how fast a site sends exposures in and out of them. */
function exposureRates(fleet: FleetInputs, periodS: number) {
  const windows = fleet.bursts
    .map((burst) => ({ start: burst.startFraction * periodS, end: (burst.startFraction + burst.durationFraction) * periodS }))
    .sort((a, b) => a.start - b.start);
  const burstS = windows.reduce((sum, w) => sum + (Math.min(w.end, periodS) - w.start), 0);
  const exposuresPerSite = ((fleet.objectsPerSitePerNight / OBJECTS_PER_EXPOSURE) * periodS) / (fleet.nightHours * 3600);
  const burstRate = fleet.burstObjectsPerSitePerS / OBJECTS_PER_EXPOSURE;
  const baseRate = Math.max(0, (exposuresPerSite - burstRate * burstS) / Math.max(1, periodS - burstS));
  return { windows, burstRate, baseRate };
}

class Night {
  private readonly agenda = new EventQueue<SimEvent>();
  private readonly service: Random;
  private readonly siteRandom: Random[];
  private readonly rates: ReturnType<typeof exposureRates>;
  private readonly periodS: number;
  private readonly cpuStretch: number;
  private readonly holdsConnection: boolean;

  private readonly exposureSite = new Column(new Uint32Array(1024), (n) => new Uint32Array(n));
  private readonly exposureExpiring = new Column(new Uint8Array(1024), (n) => new Uint8Array(n));
  private readonly headerRecordedAt = new Column(new Float64Array(1024), (n) => new Float64Array(n));
  private readonly timesProcessed = new Column(new Uint8Array(4096), (n) => new Uint8Array(n));
  private exposures = 0;
  private messages = 0;
  private uploads = 0;
  private thumbnails = 0;
  private headerMissing = 0;

  private readonly queue: Message[] = [];
  private queueHead = 0;
  private readonly gathering: OpenBatch[] = [];
  private nextGatherer = 0;
  private busy = 0;
  private scaleLimit: number;
  private lastScaled = 0;
  private backlogged = false;
  private emptySince: number | undefined = 0;
  private readonly idle: Instance[] = [];

  private readonly concurrency = new Level();
  private readonly connections = new Level();
  private connectionsOpened = 0;
  private invocations = 0;
  private coldStarts = 0;
  private billedGbS = 0;
  private lastDone = 0;
  private readonly queueAge = new Samples();
  private readonly endToEnd = new Samples();
  private readonly calls = Object.fromEntries(CALLS.map((c) => [c, 0])) as Record<CallType, number>;
  private readonly writesByTable = Object.fromEntries(TABLES.map((t) => [t, 0])) as Record<DynamoTable, number>;
  private readonly writesPerS = Object.fromEntries(TABLES.map((t) => [t, new Bins(1)])) as Record<DynamoTable, Bins>;
  private readonly siteSecond: Float64Array;
  private readonly siteCount: Uint32Array;
  private peakSiteWrites = 0;
  private readonly arrivalsPerS = new Bins(1);
  private readonly s3GetPerS = new Bins(1);
  private readonly s3PutPerS = new Bins(1);
  private readonly dbCpuPerMinute = new Bins(60);
  private dbCpuMs = 0;
  private receives = 0;
  private deletes = 0;

  constructor(
    private readonly design: DesignInputs,
    private readonly options: NightOptions,
  ) {
    this.periodS = options.hours * 3600;
    this.rates = exposureRates(options.fleet, this.periodS);
    this.service = seededRandom(options.seed ^ 0x5eed5eed);
    this.siteRandom = Array.from({ length: options.sites }, (_, site) => seededRandom(siteSeed(options.seed, site)));
    this.cpuStretch = Math.max(1, LAMBDA_MB_PER_VCPU / design.lambda.memoryMb) / LAMBDA_VCPU_SPEED;
    this.holdsConnection = Object.values(design.steps).some((steps) => steps.some((step) => step.call === "sql"));
    this.scaleLimit = this.initialConcurrency();
    this.siteSecond = new Float64Array(options.sites).fill(-1);
    this.siteCount = new Uint32Array(options.sites);
  }

  run(): DesignRun {
    for (let site = 0; site < this.options.sites; site += 1) this.scheduleExposure(site, 0);
    for (let next = this.agenda.next(); next; next = this.agenda.next()) this.handle(next.time, next.event);
    return this.result();
  }

  private handle(now: number, event: SimEvent): void {
    switch (event.type) {
      case "exposure":
        return this.exposure(now, event.site);
      case "arrive":
        return this.arrive(now, event.message);
      case "window":
        if (!event.batch.open) return;
        this.gathering.splice(this.gathering.indexOf(event.batch), 1);
        event.batch.open = false;
        this.invoke(now, event.batch.messages);
        return this.pump(now);
      case "end":
        return this.end(now, event.instance);
      case "reclaim":
        return this.reclaim(now, event.instance, event.idleSince);
      case "connection":
        return this.connections.change(now, event.delta);
    }
  }

  /** The site's next exposure after `from`: exponential gaps at the rate of the segment they fall in. */
  private scheduleExposure(site: number, from: number): void {
    const random = this.siteRandom[site];
    if (!random) return;
    let t = from;
    while (t < this.periodS) {
      const burst = this.rates.windows.find((w) => t >= w.start && t < w.end);
      const nextBurst = this.rates.windows.find((w) => w.start > t);
      const rate = burst ? this.rates.burstRate : this.rates.baseRate;
      const segmentEnd = Math.min(this.periodS, burst ? burst.end : (nextBurst?.start ?? this.periodS));
      const gap = rate > 0 ? random.exponential(rate) : Infinity;
      if (t + gap < segmentEnd) {
        this.agenda.schedule(t + gap, { type: "exposure", site });
        return;
      }
      t = segmentEnd;
    }
  }

  private exposure(now: number, site: number): void {
    const exposure = this.exposures;
    this.exposures += 1;
    this.exposureSite.set(exposure, site);
    this.exposureExpiring.set(exposure, this.siteRandom[site]?.chance(this.options.fleet.expiringFraction) ? 1 : 0);
    this.headerRecordedAt.set(exposure, Infinity);
    for (const upload of EXPOSURE_UPLOADS) {
      this.uploads += 1;
      this.s3PutPerS.add(now + upload.offsetS, 1);
      this.emit(exposure, upload.kind, now + upload.offsetS);
    }
    this.scheduleExposure(site, now);
  }

  /** An object written at `writtenAt`: its event becomes visible to the function a notification delay later. */
  private emit(exposure: number, kind: ObjectKind, writtenAt: number): void {
    const message = { id: this.messages, exposure, kind, uploadedAt: writtenAt, visibleAt: writtenAt + LATENCY.notificationDelayS };
    this.messages += 1;
    this.agenda.schedule(message.visibleAt, { type: "arrive", message });
  }

  private arrive(now: number, message: Message): void {
    this.arrivalsPerS.add(now, 1);
    this.countSiteWrite(now, this.exposureSite.get(message.exposure));
    const delivery = this.design.delivery;
    if (delivery.kind === "sqs" && this.queueLength() === 0 && this.gathering.length > 0 && !this.canGatherMore()) {
      // One of the pollers gathering a batch receives it: SQS spreads messages over the waiting receives.
      const batch = this.gathering[this.nextGatherer % this.gathering.length];
      this.nextGatherer += 1;
      if (!batch) throw new Error("no poller is gathering a batch");
      batch.messages.push(message);
      this.receives += 1;
      if (batch.messages.length >= delivery.batchSize) {
        this.gathering.splice(this.gathering.indexOf(batch), 1);
        batch.open = false;
        this.invoke(now, batch.messages);
      }
      return;
    }
    this.queue.push(message);
    this.pump(now);
  }

  /** Whether another poller may start gathering a batch: fewer than the gatherers are, and the cap leaves room. */
  private canGatherMore(): boolean {
    const delivery = this.design.delivery;
    return delivery.kind === "sqs" && this.gathering.length < delivery.gatherers && this.freeSlots() > 0;
  }

  private freeSlots(): number {
    return Math.floor(this.scaleLimit) - this.busy - this.gathering.length;
  }

  /** One partition key of recent-uploads-log per site: its busiest second. */
  private countSiteWrite(now: number, site: number): void {
    const second = Math.floor(now);
    if (this.siteSecond[site] !== second) {
      this.siteSecond[site] = second;
      this.siteCount[site] = 0;
    }
    const count = (this.siteCount[site] ?? 0) + 1;
    this.siteCount[site] = count;
    if (count > this.peakSiteWrites) this.peakSiteWrites = count;
  }

  private queueLength(): number {
    return this.queue.length - this.queueHead;
  }

  private take(count: number): Message[] {
    const taken = this.queue.slice(this.queueHead, this.queueHead + count);
    this.queueHead += taken.length;
    if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    return taken;
  }

  /** Hands waiting events to the function while it may run more: batches for SQS, one by one for direct invocation. */
  private pump(now: number): void {
    const delivery = this.design.delivery;
    if (delivery.kind === "direct") {
      while (this.queueLength() > 0 && this.busy < delivery.maxConcurrency) this.invoke(now, this.take(1));
      return;
    }
    this.rescale(now);
    while (this.queueLength() > 0 && this.freeSlots() > 0) {
      if (this.queueLength() >= delivery.batchSize) {
        this.invoke(now, this.take(delivery.batchSize));
      } else if (this.gathering.length < delivery.gatherers) {
        // Fewer than a batch: the poller waits up to the batching window for more.
        const batch = { messages: this.take(delivery.batchSize), open: true };
        this.gathering.push(batch);
        this.agenda.schedule(now + delivery.batchingWindowS, { type: "window", batch });
      } else break;
      this.receives += 1;
    }
    this.backlogged = this.queueLength() > 0;
    if (this.queueLength() > 0 || this.busy > 0) this.emptySince = undefined;
    else this.emptySince ??= now;
  }

  /** Lambda adds concurrent batches while messages wait and falls back to its initial pollers after a quiet minute. */
  private rescale(now: number): void {
    const delivery = this.design.delivery;
    if (delivery.kind !== "sqs") return;
    if (this.backlogged) {
      this.scaleLimit = Math.min(delivery.maxConcurrency, this.scaleLimit + delivery.scaleUpPerS * (now - this.lastScaled));
    } else if (this.emptySince !== undefined && now - this.emptySince > 60) {
      this.scaleLimit = this.initialConcurrency();
    }
    this.lastScaled = now;
  }

  private initialConcurrency(): number {
    const delivery = this.design.delivery;
    return delivery.kind === "sqs" ? Math.min(delivery.initialConcurrency, delivery.maxConcurrency) : delivery.maxConcurrency;
  }

  private acquire(now: number): { instance: Instance; cold: boolean } {
    for (let instance = this.idle.pop(); instance; instance = this.idle.pop()) {
      if (!instance.reclaimed) {
        instance.busy = true;
        return { instance, cold: false };
      }
    }
    this.coldStarts += 1;
    if (this.holdsConnection) {
      this.connectionsOpened += 1;
      this.connections.change(now, 1);
    }
    return { instance: { idleSince: now, busy: true, reclaimed: false }, cold: true };
  }

  private end(now: number, instance: Instance): void {
    this.busy -= 1;
    this.concurrency.change(now, -1);
    instance.busy = false;
    instance.idleSince = now;
    this.idle.push(instance);
    this.agenda.schedule(now + this.design.lambda.idleLifetimeS, { type: "reclaim", instance, idleSince: now });
    this.pump(now);
  }

  private reclaim(now: number, instance: Instance, idleSince: number): void {
    if (instance.busy || instance.reclaimed || instance.idleSince !== idleSince) return;
    instance.reclaimed = true;
    if (this.holdsConnection) this.connections.change(now, -1);
  }

  /** One invocation: its records one after another, as objectEvents.ts processes a batch. */
  private invoke(now: number, batch: Message[]): void {
    const { lambda, delivery } = this.design;
    const { instance, cold } = this.acquire(now);
    this.busy += 1;
    this.invocations += 1;
    this.concurrency.change(now, 1);
    if (delivery.kind === "sqs") this.deletes += 1;
    let billedMs = lambda.invocationCpuMs * this.cpuStretch + (cold ? lambda.initMs : 0);
    let t = now + (LATENCY.invokeOverheadMs + billedMs) / 1000;
    for (const message of batch) {
      this.queueAge.add(now - message.visibleAt);
      this.timesProcessed.set(message.id, this.timesProcessed.get(message.id) + 1);
      const ms = this.processRecord(message, t);
      t += ms / 1000;
      billedMs += ms;
      this.endToEnd.add(t - message.uploadedAt);
    }
    this.lastDone = Math.max(this.lastDone, t);
    // Lambda bills duration rounded up to the millisecond.
    this.billedGbS += (Math.ceil(billedMs) * lambda.memoryMb) / 1024 / 1000;
    this.agenda.schedule(t, { type: "end", instance });
  }

  /** One object's steps from `start`: their time in ms, and what they leave behind (rows, thumbnails, connections). */
  private processRecord(message: Message, start: number): number {
    const expiring = this.exposureExpiring.get(message.exposure) === 1;
    const headerKnown = this.headerRecordedAt.get(message.exposure) <= start;
    if (FITS.has(message.kind) && !headerKnown) this.headerMissing += 1;
    let t = start;
    let total = 0;
    for (const step of this.design.steps[message.kind]) {
      if ("when" in step && step.when === "expiring" && !expiring) continue;
      if ("when" in step && step.when === "headerMissing" && headerKnown) continue;
      const ms = this.stepMs(step);
      this.account(step, message, t, t + ms / 1000);
      t += ms / 1000;
      total += ms;
    }
    return total;
  }

  /** A step's milliseconds: its network latency (lognormal) and its CPU, stretched by the function's memory. */
  private stepMs(step: Step): number {
    const { medianMs, sigma, s3BytesPerMs } = LATENCY;
    const d = this.design;
    const random = this.service;
    const awsCpu = d.cpuMsPerAwsCall * this.cpuStretch;
    switch (step.call) {
      case "dynamoWrite":
        return random.lognormal(medianMs.dynamoWrite, sigma) + awsCpu;
      case "dynamoRead":
        return random.lognormal(medianMs.dynamoRead, sigma) + awsCpu;
      case "s3Head":
        return random.lognormal(medianMs.s3Head, sigma) + awsCpu;
      case "s3Get":
        return random.lognormal(medianMs.s3Get, sigma) + step.bytes / s3BytesPerMs + awsCpu;
      case "s3Put":
        return random.lognormal(medianMs.s3Put, sigma) + step.bytes / s3BytesPerMs + awsCpu;
      case "sqsRequest":
        return random.lognormal(medianMs.sqsRequest, sigma) + awsCpu;
      case "sql":
        return random.lognormal(medianMs.sql, sigma) + d.cpuMsPerSqlStatement * this.cpuStretch;
      case "dbSession":
        return random.lognormal(medianMs.dbConnect, sigma) + d.dbSessionMs;
      case "sdkClient":
        return d.sdkClientMs * this.cpuStretch;
      case "cpu":
        return step.ms * this.cpuStretch;
    }
  }

  private account(step: Step, message: Message, from: number, to: number): void {
    this.calls[step.call] += 1;
    switch (step.call) {
      case "dynamoWrite":
        this.writesByTable[step.table] += 1;
        this.writesPerS[step.table].add(from, 1);
        return;
      case "s3Head":
      case "s3Get":
        this.s3GetPerS.add(from, 1);
        return;
      case "s3Put":
        this.s3PutPerS.add(to, 1);
        this.thumbnails += 1;
        this.emit(message.exposure, "thumbnailJpg", to);
        return;
      case "sql":
        this.addDbCpu(from, this.design.dbServerMsPerSql);
        if (step.records === "header") this.recordHeader(message.exposure, to);
        return;
      case "dbSession":
        this.addDbCpu(from, this.design.dbServerMsPerSession);
        this.connectionsOpened += 1;
        this.agenda.schedule(from, { type: "connection", delta: 1 });
        this.agenda.schedule(to, { type: "connection", delta: -1 });
        if (step.records === "header") this.recordHeader(message.exposure, to);
        return;
      default:
        return;
    }
  }

  private addDbCpu(at: number, ms: number): void {
    this.dbCpuPerMinute.add(at, ms);
    this.dbCpuMs += ms;
  }

  private recordHeader(exposure: number, at: number): void {
    this.headerRecordedAt.set(exposure, Math.min(this.headerRecordedAt.get(exposure), at));
  }

  private result(): DesignRun {
    const end = Math.max(this.periodS, this.lastDone);
    let processed = 0;
    let processedTwice = 0;
    for (let id = 0; id < this.messages; id += 1) {
      const times = this.timesProcessed.get(id);
      if (times > 0) processed += 1;
      if (times > 1) processedTwice += 1;
    }
    const vcpuMs = (seconds: number) => seconds * 1000 * DATABASE.vcpus;
    return {
      design: this.design.name,
      periodS: this.periodS,
      exposures: this.exposures,
      objects: {
        created: this.messages,
        uploads: this.uploads,
        thumbnails: this.thumbnails,
        processed,
        processedTwice,
        headerMissing: this.headerMissing,
      },
      peakArrivalsPerS: this.arrivalsPerS.peak(),
      invocations: this.invocations,
      coldStarts: this.coldStarts,
      concurrency: { peak: this.concurrency.peak, p99: this.concurrency.percentile(0.99, end), mean: this.concurrency.mean(end) },
      connections: { peak: this.connections.peak, p99: this.connections.percentile(0.99, end), opened: this.connectionsOpened },
      queueAgeS: this.queueAge.summary(),
      endToEndS: this.endToEnd.summary(),
      lastDoneS: this.lastDone,
      billedGbS: this.billedGbS,
      calls: { ...this.calls },
      writesByTable: { ...this.writesByTable },
      peakWritesPerS: Object.fromEntries(TABLES.map((t) => [t, this.writesPerS[t].peak()])) as Record<DynamoTable, number>,
      peakSiteWritesPerS: this.peakSiteWrites,
      peakS3GetPerS: this.s3GetPerS.peak(),
      peakS3PutPerS: this.s3PutPerS.peak(),
      sqs: {
        queueSends: this.design.delivery.kind === "sqs" ? this.messages : 0,
        receives: this.receives,
        deletes: this.deletes,
      },
      dbCpu: { ms: this.dbCpuMs, mean: this.dbCpuMs / vcpuMs(end), peakMinute: this.dbCpuPerMinute.peak() / vcpuMs(60) },
    };
  }
}

/** Runs one design through one night; the same options give the same arrivals whatever the design. */
export function simulateNight(design: DesignInputs, options: NightOptions): DesignRun {
  return new Night(design, options).run();
}

/** The design with another cap on its event source's concurrency (so on its Postgres connections). */
export function withConcurrency(design: DesignInputs, maxConcurrency: number): DesignInputs {
  return { ...design, delivery: { ...design.delivery, maxConcurrency } };
}
