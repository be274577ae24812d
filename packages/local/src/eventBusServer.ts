import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { z } from "zod";
import { listeningPort } from "./dynamoServer";
import { logger } from "./log";

/**
 * A tiny EventBridge stand-in (the stage's event bus locally and in tests). It answers the one call the archive makes,
 * PutEvents, as @aws-sdk/client-eventbridge 3.x speaks it (AWS JSON 1.1, `X-Amz-Target: AWSEvents.PutEvents`); every
 * bus exists, and every entry is kept for inspection and handed to listeners.
 */
export interface LocalBusEvent {
  eventId: string;
  eventBusName: string;
  source: string;
  detailType: string;
  /** The entry's Detail, parsed. */
  detail: unknown;
  receivedAt: Date;
}

export interface LocalEventBusServer {
  endpoint: string;
  events(): LocalBusEvent[];
  onEvent(listener: (event: LocalBusEvent) => void): () => void;
  close(): Promise<void>;
}

const putEventsSchema = z.object({
  Entries: z
    .array(
      z.object({
        EventBusName: z.string().default("default"),
        Source: z.string(),
        DetailType: z.string(),
        Detail: z.string(),
      }),
    )
    .min(1)
    .max(10),
});

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

const respond = (response: ServerResponse, status: number, body: unknown) => {
  response.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
  response.end(JSON.stringify(body));
};

/** Starts the stand-in on 127.0.0.1 (a free port unless given). */
export async function startEventBusServer(options: { port?: number } = {}): Promise<LocalEventBusServer> {
  const received: LocalBusEvent[] = [];
  const listeners = new Set<(event: LocalBusEvent) => void>();

  const putEvents = (input: unknown) => {
    const request = putEventsSchema.parse(input);
    const entries = request.Entries.map((entry) => {
      const event: LocalBusEvent = {
        eventId: randomUUID(),
        eventBusName: entry.EventBusName,
        source: entry.Source,
        detailType: entry.DetailType,
        detail: JSON.parse(entry.Detail),
        receivedAt: new Date(),
      };
      received.push(event);
      for (const listener of listeners) listener(event);
      return { EventId: event.eventId };
    });
    return { FailedEntryCount: 0, Entries: entries };
  };

  const server = createServer((request, response) => {
    const target = String(request.headers["x-amz-target"] ?? "");
    readJson(request)
      .then((input) => {
        if (target !== "AWSEvents.PutEvents") {
          respond(response, 400, { __type: "UnsupportedOperation", message: `unsupported ${target}` });
          return;
        }
        respond(response, 200, putEvents(input));
      })
      .catch((error: unknown) => {
        const bad = error instanceof SyntaxError || error instanceof z.ZodError;
        if (!bad) logger.error("the EventBridge stand-in failed", { target, error: error instanceof Error ? error.message : String(error) });
        respond(response, bad ? 400 : 500, {
          __type: bad ? "ValidationException" : "InternalException",
          message: bad ? "the request is not a valid PutEvents" : "internal error",
        });
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  return {
    endpoint: `http://127.0.0.1:${listeningPort(server.address())}`,
    events: () => [...received],
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => {
      listeners.clear();
      server.closeAllConnections();
      return new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
