import { fork, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { z } from "zod";
import { logger } from "./log";
import type { SqsHandler } from "./dispatcher";

/**
 * The ingest handlers' execution environments: child processes (so handlers use the other cores, apart from s3rver,
 * dynalite and the API in the archive's process), each running one invocation at a time as Lambda does. An invocation
 * waits for a free environment; one that dies fails its invocation (the dispatcher retries it) and is replaced.
 */
export interface FunctionPoolOptions {
  /** Function name → module exporting `handler`, imported in each environment after the archive set its variables. */
  functions: Record<string, string>;
  /** Execution environments (the functions' total concurrency). */
  size: number;
  /** The functions' environment variables, as a stack sets them on a Lambda function. */
  environment: Record<string, string>;
}

export interface FunctionPool {
  /** A handler that runs `functionName` in a free environment. */
  handler(functionName: string): SqsHandler;
  close(): Promise<void>;
}

export const invocationSchema = z.object({
  id: z.number(),
  functionName: z.string(),
  event: z.custom<SQSEvent>((value) => typeof value === "object" && value !== null && "Records" in value, "not an SQS event"),
});
type Invocation = z.infer<typeof invocationSchema>;

const batchResponseSchema = z.object({ batchItemFailures: z.array(z.object({ itemIdentifier: z.string() })) });
const replySchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready") }),
  z.object({ type: z.literal("failed"), error: z.string() }),
  z.object({ type: z.literal("result"), id: z.number(), response: batchResponseSchema.optional() }),
  z.object({ type: z.literal("error"), id: z.number(), name: z.string(), message: z.string() }),
]);
export type RuntimeReply = z.infer<typeof replySchema>;

const runtimeEntry = fileURLToPath(new URL("./functionRuntime.ts", import.meta.url));
// Environments run TypeScript as `npm start` does.
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

interface Pending {
  resolve(response: SQSBatchResponse | undefined): void;
  reject(error: Error): void;
}

class Environment {
  private pending: { id: number; settle: Pending } | undefined;
  private started = false;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;

  constructor(
    readonly child: ChildProcess,
    onExit: (environment: Environment, afterStart: boolean) => void,
  ) {
    this.ready = new Promise((resolve, reject) => {
      child.on("message", (message: unknown) => {
        const reply = replySchema.parse(message);
        if (reply.type === "ready") {
          this.started = true;
          resolve();
        }
        else if (reply.type === "failed") reject(new Error(`a function environment could not load its handlers: ${reply.error}`));
        else this.settle(reply);
      });
      child.once("exit", (code, signal) => reject(new Error(`a function environment exited while starting (${signal ?? code})`)));
    });
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.pending?.settle.reject(new Error(`the function environment exited during the invocation (${signal ?? code})`));
        this.pending = undefined;
        onExit(this, this.started);
        resolve();
      });
    });
  }

  private settle(reply: Extract<RuntimeReply, { type: "result" | "error" }>): void {
    if (this.pending?.id !== reply.id) return;
    const { settle } = this.pending;
    this.pending = undefined;
    if (reply.type === "result") settle.resolve(reply.response);
    else settle.reject(Object.assign(new Error(reply.message), { name: reply.name }));
  }

  invoke(invocation: Invocation): Promise<SQSBatchResponse | undefined> {
    return new Promise((resolve, reject) => {
      this.pending = { id: invocation.id, settle: { resolve, reject } };
      this.child.send(invocation, (error) => {
        if (error && this.pending?.id === invocation.id) {
          this.pending = undefined;
          reject(error);
        }
      });
    });
  }
}

export async function startFunctionPool(options: FunctionPoolOptions): Promise<FunctionPool> {
  const idle: Environment[] = [];
  const waiters: ((environment: Environment) => void)[] = [];
  const all = new Set<Environment>();
  let closing = false;
  let nextId = 0;

  const release = (environment: Environment) => {
    const waiter = waiters.shift();
    if (waiter) waiter(environment);
    else idle.push(environment);
  };

  const spawn = (): Environment => {
    const child = fork(runtimeEntry, [JSON.stringify(options.functions)], {
      execArgv: ["--import", tsxLoader],
      env: { ...process.env, ...options.environment },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const environment = new Environment(child, (gone, afterStart) => {
      all.delete(gone);
      const index = idle.indexOf(gone);
      if (index >= 0) idle.splice(index, 1);
      if (closing || !afterStart) return;
      logger.error("a function environment exited; starting another");
      const replacement = spawn();
      replacement.ready.then(
        () => release(replacement),
        (error: unknown) => logger.error("the replacement function environment failed", { error: String(error) }),
      );
    });
    all.add(environment);
    return environment;
  };

  const close = async () => {
    closing = true;
    const exits = [...all].map((environment) => {
      if (environment.child.connected) environment.child.disconnect();
      return environment.exited;
    });
    await Promise.all(exits);
  };

  const started = Array.from({ length: options.size }, spawn);
  try {
    await Promise.all(started.map((environment) => environment.ready));
  } catch (error) {
    await close();
    throw error;
  }
  idle.push(...started);

  const acquire = (): Promise<Environment> => {
    const environment = idle.pop();
    return environment ? Promise.resolve(environment) : new Promise((resolve) => waiters.push(resolve));
  };

  return {
    handler: (functionName) => async (event) => {
      const environment = await acquire();
      try {
        return await environment.invoke({ id: (nextId += 1), functionName, event });
      } finally {
        if (all.has(environment)) release(environment);
      }
    },
    close,
  };
}
