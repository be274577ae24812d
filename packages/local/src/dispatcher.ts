import type { Context, S3EventRecord, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { z } from "zod";
import { logger } from "./log";
import { lambdaContext, newMessage, sqsRecord, type QueuedMessage } from "./lambdaEvents";
import type { DeadLetter, MessageJournal } from "./messageJournal";

export type { DeadLetter } from "./messageJournal";

/**
 * What replaces S3 → SQS → Lambda locally: each object-created record goes, by key prefix, onto a queue; a queue
 * hands its handler small batches of SQS records, several batches at once up to its concurrency (as an event source
 * mapping scales Lambda out; the handlers are idempotent and order-independent); records named in batchItemFailures
 * (or a whole batch whose handler threw) come back after a delay, and after `maxReceiveCount` receives they move to
 * the dead-letter list.
 */
export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface QueueDefinition {
  /** Queue name as the stacks name it (shown in /health and in the dead-letter list). */
  name: string;
  /** Object keys (URL-encoded, as in the notification) starting with this prefix go to this queue. */
  prefix: string;
  functionName: string;
  handler: SqsHandler;
}


export interface QueueStats {
  name: string;
  prefix: string;
  waiting: number;
  inFlight: number;
  delivered: number;
  retried: number;
  deadLettered: number;
}

export interface DispatcherOptions {
  region: string;
  queues: QueueDefinition[];
  batchSize?: number;
  /** Batches a queue runs at the same time (the function's maximum concurrency). */
  concurrency?: number;
  /** How long a queue waits to fill a batch once a message arrives (the event source's batching window). */
  batchWindowMs?: number;
  /** Receives before a message is dead-lettered (the redrive policy's maxReceiveCount). */
  maxReceiveCount?: number;
  /** Delay before a failed message is visible again after its first receive; it doubles with each receive. */
  retryDelayMs?: number;
  /** The longest delay between two receives. */
  maxRetryDelayMs?: number;
  /** Where messages are kept until handled, so a killed archive delivers them at its next start. */
  journal?: MessageJournal;
}

/**
 * The local retry budget: like SQS's visibility timeout, a failed message waits before its next receive, doubling
 * from 1 s up to a minute, 12 receives in all: about 6 minutes of a database (or S3, DynamoDB) outage dead-letter
 * nothing valid. Bad input is acknowledged by the handlers and never retried.
 */
export const LOCAL_RETRY = { maxReceiveCount: 12, retryDelayMs: 1000, maxRetryDelayMs: 60_000 } as const;

/** The wait before receive n + 1 of a message received n times. */
export function retryDelay(receiveCount: number, retryDelayMs: number, maxRetryDelayMs: number): number {
  return Math.min(retryDelayMs * 2 ** Math.max(receiveCount - 1, 0), maxRetryDelayMs);
}

interface Waiting {
  message: QueuedMessage;
  visibleAt: number;
}

const keysSchema = z.object({ Records: z.array(z.object({ s3: z.object({ object: z.object({ key: z.string() }) }) })) });

function keysOf(body: string): string[] {
  try {
    const parsed = keysSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data.Records.map((record) => decodeURIComponent(record.s3.object.key.replace(/\+/g, " "))) : [];
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof URIError) return [];
    throw error;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

class LocalQueue {
  readonly waiting: Waiting[] = [];
  inFlight = 0;
  delivered = 0;
  retried = 0;
  deadLettered = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    readonly definition: QueueDefinition,
    private readonly options: Required<Omit<DispatcherOptions, "queues" | "journal">>,
    private readonly settle: (message: QueuedMessage, letter?: DeadLetter) => void,
  ) {}

  enqueue(message: QueuedMessage, delayMs = 0): void {
    this.waiting.push({ message, visibleAt: Date.now() + delayMs });
    this.schedule(delayMs > 0 ? delayMs : this.options.batchWindowMs);
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.running.size >= this.options.concurrency) return;
    const at = Date.now() + delayMs;
    if (this.timer !== undefined) {
      if (this.timerAt <= at) return;
      clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.startBatches();
    }, delayMs);
  }

  /** Starts batches of visible messages while the queue is under its concurrency; the rest waits for a free slot. */
  private startBatches(): void {
    while (!this.stopped && this.running.size < this.options.concurrency) {
      const batch = this.takeVisibleBatch();
      if (batch.length === 0) break;
      const run: Promise<void> = this.deliver(batch).finally(() => {
        this.running.delete(run);
        this.startBatches();
      });
      this.running.add(run);
    }
    this.scheduleNextVisible();
  }

  private takeVisibleBatch(): QueuedMessage[] {
    const now = Date.now();
    const batch: QueuedMessage[] = [];
    for (let index = 0; index < this.waiting.length && batch.length < this.options.batchSize; ) {
      const entry = this.waiting[index];
      if (entry !== undefined && entry.visibleAt <= now) {
        batch.push(entry.message);
        this.waiting.splice(index, 1);
      } else {
        index += 1;
      }
    }
    return batch;
  }

  private scheduleNextVisible(): void {
    if (this.waiting.length === 0) return;
    let soonest = Infinity;
    for (const entry of this.waiting) soonest = Math.min(soonest, entry.visibleAt);
    this.schedule(Math.max(0, soonest - Date.now()));
  }

  private async deliver(batch: QueuedMessage[]): Promise<void> {
    const now = Date.now();
    for (const message of batch) {
      message.receiveCount += 1;
      message.firstReceivedAt ??= now;
    }
    const { name, functionName, handler } = this.definition;
    const event: SQSEvent = { Records: batch.map((message) => sqsRecord(message, this.options.region, name)) };
    this.inFlight += batch.length;
    let failed: Map<string, string>;
    try {
      const response = await handler(event, lambdaContext(functionName));
      failed = new Map((response?.batchItemFailures ?? []).map((failure) => [failure.itemIdentifier, "reported in batchItemFailures"]));
    } catch (error) {
      // A handler that throws fails its whole batch, as the event source mapping treats it.
      logger.error("handler failed its whole batch", { queue: name, function: functionName, error: describe(error) });
      failed = new Map(batch.map((message) => [message.messageId, `handler threw ${describe(error)}`]));
    } finally {
      this.inFlight -= batch.length;
    }
    for (const message of batch) {
      const reason = failed.get(message.messageId);
      if (reason === undefined) {
        this.delivered += 1;
        this.settle(message);
      } else if (message.receiveCount >= this.options.maxReceiveCount) {
        this.deadLettered += 1;
        this.settle(message, {
          queue: name,
          messageId: message.messageId,
          keys: keysOf(message.body),
          receiveCount: message.receiveCount,
          reason,
          failedAt: new Date().toISOString(),
          body: message.body,
        });
      } else {
        this.retried += 1;
        const delay = retryDelay(message.receiveCount, this.options.retryDelayMs, this.options.maxRetryDelayMs);
        this.waiting.push({ message, visibleAt: Date.now() + delay });
      }
    }
  }

  stats(): QueueStats {
    return {
      name: this.definition.name,
      prefix: this.definition.prefix,
      waiting: this.waiting.length,
      inFlight: this.inFlight,
      delivered: this.delivered,
      retried: this.retried,
      deadLettered: this.deadLettered,
    };
  }

  /** True when nothing is waiting or running. */
  idle(): boolean {
    return this.waiting.length === 0 && this.running.size === 0 && this.timer === undefined;
  }

  /** Stops taking batches and waits for those running, so handlers never see closed services. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all(this.running);
  }
}

export interface Dispatcher {
  /** One S3 notification record (already in the real shape), routed by its key's prefix; false when no queue takes it. */
  dispatch(record: S3EventRecord): boolean;
  /** A message body sent to a queue by name (a re-ingestion's SendMessage); false when no queue has that name. */
  send(queueName: string, body: string): boolean;
  stats(): QueueStats[];
  deadLetters(): DeadLetter[];
  /** Puts dead letters (all, or those named) back on their queues as new messages; returns those moved. */
  redrive(messageIds?: readonly string[]): DeadLetter[];
  /** Resolves once every queue is empty and no handler runs (tests wait for it after uploading). */
  whenIdle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const settings = {
    region: options.region,
    // As the stacks' event source mappings: ingestion commits a batch's image writes together.
    batchSize: options.batchSize ?? 10,
    concurrency: options.concurrency ?? 4,
    batchWindowMs: options.batchWindowMs ?? 100,
    maxReceiveCount: options.maxReceiveCount ?? LOCAL_RETRY.maxReceiveCount,
    retryDelayMs: options.retryDelayMs ?? LOCAL_RETRY.retryDelayMs,
    maxRetryDelayMs: options.maxRetryDelayMs ?? LOCAL_RETRY.maxRetryDelayMs,
  };
  const { journal } = options;
  const letters: DeadLetter[] = [...(journal?.restored.deadLetters ?? [])];
  const queues = options.queues.map(
    (definition) =>
      new LocalQueue(definition, settings, (message, letter) => {
        if (letter === undefined) return journal?.settled(message.messageId);
        letters.push(letter);
        journal?.deadLettered(letter);
        logger.error("message moved to the dead-letter list", { queue: letter.queue, keys: letter.keys, reason: letter.reason });
      }),
  );
  const queueNamed = (name: string) => queues.find((queue) => queue.definition.name === name);
  /** Journaled before it is queued: the journal line is the promise that the message will be delivered. */
  const send = (queue: LocalQueue, message: QueuedMessage) => {
    journal?.queued(queue.definition.name, message);
    queue.enqueue(message);
  };

  const restored = journal?.restored.pending ?? [];
  for (const { queue: name, message } of restored) {
    const queue = queueNamed(name);
    if (queue) queue.enqueue(message);
    else logger.warn("a journaled message names a queue that no longer exists", { queue: name, messageId: message.messageId });
  }
  if (restored.length > 0) logger.warn("delivering messages the last run left unhandled", { count: restored.length });

  return {
    dispatch(record) {
      const queue = queues.find((candidate) => record.s3.object.key.startsWith(candidate.definition.prefix));
      if (!queue) return false;
      // S3 sends one record per message to SQS.
      send(queue, newMessage(JSON.stringify({ Records: [record] })));
      return true;
    },
    send(queueName, body) {
      const queue = queueNamed(queueName);
      if (!queue) return false;
      send(queue, newMessage(body));
      return true;
    },
    stats: () => queues.map((queue) => queue.stats()),
    deadLetters: () => [...letters],
    redrive(messageIds) {
      const chosen = letters.filter((letter) => messageIds === undefined || messageIds.includes(letter.messageId));
      const moved: DeadLetter[] = [];
      for (const letter of chosen) {
        const queue = queueNamed(letter.queue);
        if (!queue) continue;
        send(queue, newMessage(letter.body));
        journal?.redriven(letter.messageId);
        letters.splice(letters.indexOf(letter), 1);
        moved.push(letter);
      }
      return moved;
    },
    async whenIdle(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!queues.every((queue) => queue.idle())) {
        if (Date.now() > deadline) throw new Error(`the dispatcher did not become idle within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      await Promise.all(queues.map((queue) => queue.stop()));
    },
  };
}
