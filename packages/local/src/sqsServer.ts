import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { z } from "zod";
import { logger } from "./log";
import { listeningPort } from "./dynamoServer";

/**
 * A tiny SQS stand-in (the datastreamer's queue locally and in tests). It speaks the protocol @aws-sdk/client-sqs 3.x
 * uses — AWS JSON 1.0, `X-Amz-Target: AmazonSQS.<Operation>` — for SendMessage(Batch), ReceiveMessage, DeleteMessage,
 * GetQueueUrl and PurgeQueue. Every queue exists; messages are kept for inspection and handed to listeners.
 */
export interface LocalSqsMessage {
  queueUrl: string;
  messageId: string;
  body: string;
  sentAt: Date;
  /** SendMessage's DelaySeconds; the stand-in keeps it for its listeners (the local archive's delayed queues). */
  delaySeconds?: number;
}

export interface LocalSqsServer {
  endpoint: string;
  /** A queue URL on this server (the account id is a placeholder). */
  queueUrl(queueName: string): string;
  /** Every message sent so far, optionally only those of one queue. */
  messages(queueUrl?: string): LocalSqsMessage[];
  onMessage(listener: (message: LocalSqsMessage) => void): () => void;
  /** A real fault: sends whose body matches answer HTTP 500 until the returned function is called. */
  failSendsWhen(predicate: (body: string) => boolean): () => void;
  close(): Promise<void>;
}

const sendSchema = z.object({ QueueUrl: z.string(), MessageBody: z.string(), DelaySeconds: z.number().int().min(0).max(900).optional() });
const sendBatchSchema = z.object({
  QueueUrl: z.string(),
  Entries: z.array(z.object({ Id: z.string(), MessageBody: z.string() })),
});
const receiveSchema = z.object({ QueueUrl: z.string(), MaxNumberOfMessages: z.number().int().optional() });
const deleteSchema = z.object({ QueueUrl: z.string(), ReceiptHandle: z.string() });
const queueNameSchema = z.object({ QueueName: z.string() });
const queueUrlSchema = z.object({ QueueUrl: z.string() });

class SqsFault extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const md5 = (text: string) => createHash("md5").update(text, "utf8").digest("hex");

async function readBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return text.length === 0 ? {} : JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new SqsFault(400, "com.amazonaws.sqs#InvalidParameterValue", "the request body is not JSON");
  }
}

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new SqsFault(400, "com.amazonaws.sqs#MissingParameter", result.error.issues.map((i) => i.message).join("; "));
  }
  return result.data;
}

/** Starts the stand-in on 127.0.0.1 (a free port unless given). */
export async function startSqsServer(options: { port?: number } = {}): Promise<LocalSqsServer> {
  const sent: LocalSqsMessage[] = [];
  const pending = new Map<string, LocalSqsMessage[]>();
  const inFlight = new Map<string, LocalSqsMessage>();
  const listeners = new Set<(message: LocalSqsMessage) => void>();
  const faults = new Set<(body: string) => boolean>();

  const accept = (queueUrl: string, body: string, delaySeconds?: number): LocalSqsMessage => {
    for (const fault of faults) {
      if (fault(body)) throw new SqsFault(500, "com.amazonaws.sqs#InternalError", "injected fault");
    }
    const message = { queueUrl, messageId: randomUUID(), body, sentAt: new Date(), ...(delaySeconds !== undefined ? { delaySeconds } : {}) };
    sent.push(message);
    const queue = pending.get(queueUrl) ?? [];
    queue.push(message);
    pending.set(queueUrl, queue);
    for (const listener of listeners) listener(message);
    return message;
  };

  const operations: Record<string, (input: unknown) => unknown> = {
    SendMessage(input) {
      const request = parse(sendSchema, input);
      const message = accept(request.QueueUrl, request.MessageBody, request.DelaySeconds);
      return { MessageId: message.messageId, MD5OfMessageBody: md5(message.body) };
    },
    SendMessageBatch(input) {
      const request = parse(sendBatchSchema, input);
      const successful = request.Entries.map((entry) => {
        const message = accept(request.QueueUrl, entry.MessageBody);
        return { Id: entry.Id, MessageId: message.messageId, MD5OfMessageBody: md5(message.body) };
      });
      return { Successful: successful, Failed: [] };
    },
    ReceiveMessage(input) {
      const request = parse(receiveSchema, input);
      const queue = pending.get(request.QueueUrl) ?? [];
      const taken = queue.splice(0, request.MaxNumberOfMessages ?? 1);
      return {
        Messages: taken.map((message) => {
          const receiptHandle = randomUUID();
          inFlight.set(receiptHandle, message);
          return { MessageId: message.messageId, ReceiptHandle: receiptHandle, MD5OfBody: md5(message.body), Body: message.body };
        }),
      };
    },
    DeleteMessage(input) {
      inFlight.delete(parse(deleteSchema, input).ReceiptHandle);
      return {};
    },
    PurgeQueue(input) {
      pending.delete(parse(queueUrlSchema, input).QueueUrl);
      return {};
    },
    GetQueueUrl(input) {
      return { QueueUrl: queueUrl(parse(queueNameSchema, input).QueueName) };
    },
  };

  const respond = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    response.writeHead(status, { "content-type": "application/x-amz-json-1.0", ...headers });
    response.end(JSON.stringify(body));
  };

  const server = createServer((request, response) => {
    const target = String(request.headers["x-amz-target"] ?? "");
    const operation = operations[target.replace(/^AmazonSQS\./, "")];
    readBody(request)
      .then((input) => {
        if (!operation) throw new SqsFault(400, "com.amazonaws.sqs#UnsupportedOperation", `unsupported ${target}`);
        respond(response, 200, operation(input));
      })
      .catch((error: unknown) => {
        const fault =
          error instanceof SqsFault
            ? error
            : new SqsFault(500, "com.amazonaws.sqs#InternalError", error instanceof Error ? error.message : String(error));
        if (!(error instanceof SqsFault)) logger.error("the SQS stand-in failed", { target, error: fault.message });
        const code = fault.type.split("#")[1] ?? "InternalError";
        respond(response, fault.status, { __type: fault.type, message: fault.message }, {
          "x-amzn-query-error": `${code};${fault.status < 500 ? "Sender" : "Receiver"}`,
        });
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const endpoint = `http://127.0.0.1:${listeningPort(server.address())}`;
  const queueUrl = (queueName: string) => `${endpoint}/000000000000/${queueName}`;

  return {
    endpoint,
    queueUrl,
    messages: (url) => sent.filter((message) => url === undefined || message.queueUrl === url),
    onMessage(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    failSendsWhen(predicate) {
      faults.add(predicate);
      return () => faults.delete(predicate);
    },
    close: () => {
      listeners.clear();
      server.closeAllConnections();
      return new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
