import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { z } from "zod";
import type { QueuedMessage } from "./lambdaEvents";
import { logger } from "./log";

/**
 * The local queues on disk, so that an upload the local S3 acknowledged is ingested even when the archive is killed
 * (SIGKILL, a crash, a laptop's power button) before its handler ran. s3rver emits an object's event before it answers
 * the PUT, and the dispatcher appends the message here synchronously in that event, so every acknowledged object has
 * its line. A write(2) survives the process being killed (the kernel holds it); surviving the machine losing power
 * would need an fsync per message, which the laptop archive does not pay.
 *
 * One JSON line per change: a message queued, settled (handled or dead-lettered) or dead-lettered, and redriven. At
 * start the file is read back (messages never settled are delivered again; the handlers are idempotent) and
 * rewritten with only what is still open, as it is again whenever enough settled lines have piled up.
 */
const entrySchema = z.discriminatedUnion("op", [
  z.object({
    op: z.literal("queued"),
    queue: z.string(),
    message: z.object({
      messageId: z.string(),
      body: z.string(),
      sentAt: z.number(),
      receiveCount: z.number(),
      visibleAt: z.number().optional(),
    }),
  }),
  z.object({ op: z.literal("settled"), messageId: z.string() }),
  z.object({
    op: z.literal("dead"),
    letter: z.object({
      queue: z.string(),
      messageId: z.string(),
      keys: z.array(z.string()),
      receiveCount: z.number(),
      reason: z.string(),
      failedAt: z.string(),
      body: z.string(),
    }),
  }),
  z.object({ op: z.literal("redriven"), messageId: z.string() }),
]);
type Entry = z.infer<typeof entrySchema>;

/** A message the dispatcher gave up on (shown on /dlq, kept here until redriven). */
export interface DeadLetter {
  queue: string;
  messageId: string;
  /** The decoded object key(s) the message was about, for people reading /dlq. */
  keys: string[];
  receiveCount: number;
  reason: string;
  failedAt: string;
  body: string;
}

export interface PendingMessage {
  queue: string;
  message: QueuedMessage;
}

export interface MessageJournal {
  /** What the last run left: messages to deliver again, and its dead letters. */
  readonly restored: { pending: PendingMessage[]; deadLetters: DeadLetter[] };
  queued(queue: string, message: QueuedMessage): void;
  settled(messageId: string): void;
  deadLettered(letter: DeadLetter): void;
  redriven(messageId: string): void;
  close(): void;
}

/** Settled lines kept before the file is rewritten with only the open messages. */
const COMPACT_AFTER_SETTLED = 5_000;

export function openMessageJournal(path: string): MessageJournal {
  const pending = new Map<string, PendingMessage>();
  const letters = new Map<string, DeadLetter>();
  if (existsSync(path)) replay(readFileSync(path, "utf8"), path, pending, letters);
  const restored = {
    pending: [...pending.values()].map(({ queue, message }) => ({ queue, message: { ...message, receiveCount: 0 } })),
    deadLetters: [...letters.values()],
  };

  const rewrite = (): number => {
    const lines = [
      ...[...pending.values()].map(({ queue, message }) => line({ op: "queued", queue, message: storedMessage(message) })),
      ...[...letters.values()].map((letter) => line({ op: "dead", letter })),
    ];
    const temporary = `${path}.tmp`;
    const fd = openSync(temporary, "w");
    try {
      writeSync(fd, lines.join(""));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
    return openSync(path, "a");
  };

  let fd = rewrite();
  let settledSinceRewrite = 0;
  const append = (entry: Entry): void => {
    writeSync(fd, line(entry));
  };

  return {
    restored,
    queued(queue, message) {
      pending.set(message.messageId, { queue, message });
      append({ op: "queued", queue, message: storedMessage(message) });
    },
    settled(messageId) {
      if (!pending.delete(messageId)) return;
      append({ op: "settled", messageId });
      settledSinceRewrite += 1;
      if (settledSinceRewrite >= COMPACT_AFTER_SETTLED) {
        closeSync(fd);
        fd = rewrite();
        settledSinceRewrite = 0;
      }
    },
    deadLettered(letter) {
      pending.delete(letter.messageId);
      letters.set(letter.messageId, letter);
      append({ op: "dead", letter });
    },
    redriven(messageId) {
      if (!letters.delete(messageId)) return;
      append({ op: "redriven", messageId });
    },
    close() {
      closeSync(fd);
    },
  };
}

function line(entry: Entry): string {
  return `${JSON.stringify(entry)}\n`;
}

function storedMessage(message: QueuedMessage): Extract<Entry, { op: "queued" }>["message"] {
  return {
    messageId: message.messageId,
    body: message.body,
    sentAt: message.sentAt,
    receiveCount: message.receiveCount,
    ...(message.visibleAt !== undefined ? { visibleAt: message.visibleAt } : {}),
  };
}

function replay(text: string, path: string, pending: Map<string, PendingMessage>, letters: Map<string, DeadLetter>): void {
  const lines = text.split("\n");
  lines.forEach((raw, index) => {
    if (raw.trim() === "") return;
    let entry: Entry;
    try {
      entry = entrySchema.parse(JSON.parse(raw));
    } catch (error) {
      // Only the last line can be cut short (killed mid-write); anything else is worth a louder warning.
      const last = index >= lines.length - 2;
      logger.warn(last ? "the queue journal's last line was cut short; ignored" : "a queue journal line is unreadable; ignored", {
        path,
        line: index + 1,
        error: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    switch (entry.op) {
      case "queued":
        pending.set(entry.message.messageId, { queue: entry.queue, message: entry.message });
        break;
      case "settled":
        pending.delete(entry.messageId);
        break;
      case "dead":
        pending.delete(entry.letter.messageId);
        letters.set(entry.letter.messageId, entry.letter);
        break;
      case "redriven":
        letters.delete(entry.messageId);
        break;
    }
  });
}
