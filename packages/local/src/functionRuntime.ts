import { z } from "zod";
import type { SqsHandler } from "./dispatcher";
import { lambdaContext } from "./lambdaEvents";
import { invocationSchema, type RuntimeReply } from "./functionPool";

/**
 * One execution environment of the local function pool, a child process started by functionPool.ts: it imports the
 * handler modules named on its command line (a cold start, with the environment the archive set), then runs one
 * invocation at a time as the parent sends them, as a Lambda execution environment does.
 */
const functionsSchema = z.record(z.string(), z.string());
const handlerModuleSchema = z.object({ handler: z.custom<SqsHandler>((value) => typeof value === "function", "no handler export") });

function send(reply: RuntimeReply): void {
  process.send?.(reply);
}

// Ctrl-C reaches the whole process group; the parent finishes running invocations and then closes this process,
// whose exit closes the handlers' connections as a Lambda environment's end does.
process.on("SIGINT", () => undefined);
process.on("disconnect", () => process.exit(0));

const functions = functionsSchema.parse(JSON.parse(process.argv[2] ?? "{}"));
const handlers = new Map<string, SqsHandler>();
try {
  for (const [name, specifier] of Object.entries(functions)) {
    const loaded = handlerModuleSchema.parse(await import(specifier));
    handlers.set(name, loaded.handler);
  }
  send({ type: "ready" });
} catch (error) {
  send({ type: "failed", error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  process.exit(1);
}

process.on("message", (message: unknown) => {
  const invocation = invocationSchema.parse(message);
  const handler = handlers.get(invocation.functionName);
  const run = async () => {
    if (!handler) throw new Error(`no function ${invocation.functionName} in this runtime`);
    return handler(invocation.event, lambdaContext(invocation.functionName));
  };
  run().then(
    (response) => send({ type: "result", id: invocation.id, response: response ?? undefined }),
    (error: unknown) =>
      send({
        type: "error",
        id: invocation.id,
        name: error instanceof Error ? error.name : "Error",
        message: error instanceof Error ? error.message : String(error),
      }),
  );
});
