import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import {
  errorResponse,
  handleApiRequest,
  MAX_REQUEST_BODY_BYTES,
  payloadTooLarge,
  type ApiRequest,
  type RouteHandlers,
} from "@archive/core/api/handleRequest";
import { CORS_POLICY } from "@archive/core/api/routes";
import type { ArchiveContext } from "@archive/core/platform/context";
import { z } from "zod";
import { logger } from "./log";
import type { NoticeStream } from "./noticeStream";

/**
 * The local archive's one HTTP port: the API (a thin adapter over core's route table, so every route is the one
 * deployed), `/health`, `/dlq`, the dashboard's static files, and WebSocket upgrades for `/stream`.
 */
export interface LocalHttpOptions {
  ctx: ArchiveContext;
  /** Every API route's handler: the local server serves what the API functions serve together. */
  routes: RouteHandlers<ArchiveContext>;
  health(): unknown;
  deadLetters(): unknown;
  /** Puts dead letters (all, or those named) back on their queues; returns those moved. */
  redrive(messageIds?: readonly string[]): unknown[];
  stream: NoticeStream;
}

/** What API Gateway adds from the stack's CORS configuration; the local archive allows any origin. */
const CORS_HEADERS: Readonly<Record<string, string>> = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": CORS_POLICY.allowHeaders.join(", ").toLowerCase(),
  "access-control-allow-methods": [...CORS_POLICY.allowMethods, "OPTIONS"].join(", "),
};
const dashboardDirectory = fileURLToPath(new URL("./dashboard/", import.meta.url));
const DASHBOARD_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/index.html": { file: "index.html", type: "text/html; charset=utf-8" },
  "/dashboard.css": { file: "dashboard.css", type: "text/css; charset=utf-8" },
  "/dashboard.js": { file: "dashboard.js", type: "text/javascript; charset=utf-8" },
};

/** The body, or undefined once it passes the API's limit (read no further: the route answers 413). */
async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_REQUEST_BODY_BYTES) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function headersOf(request: IncomingMessage): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), Array.isArray(value) ? value.join(", ") : value]),
  );
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  response.end(JSON.stringify(value, null, 2));
}

async function answer(request: IncomingMessage, response: ServerResponse, options: LocalHttpOptions): Promise<void> {
  const url = new URL(request.url ?? "/", "http://localhost");
  // The path as sent, as API Gateway's rawPath is: URL parsing would resolve "/image/%2e%2e" to "/" (the dashboard).
  const rawPath = (request.url ?? "/").split("?")[0] ?? "/";
  const method = (request.method ?? "GET").toUpperCase();
  if (method === "GET" && rawPath === "/health") return sendJson(response, 200, options.health());
  if (method === "GET" && rawPath === "/dlq") return sendJson(response, 200, options.deadLetters());
  if (method === "POST" && rawPath === "/dlq/redrive") return redrive(request, response, options);
  const asset = method === "GET" ? DASHBOARD_FILES[rawPath] : undefined;
  if (asset) {
    response.writeHead(200, { "content-type": asset.type, "cache-control": "no-cache" });
    response.end(await readFile(`${dashboardDirectory}${asset.file}`));
    return;
  }
  if (method === "OPTIONS") {
    response.writeHead(204, { ...CORS_HEADERS, "access-control-max-age": String(CORS_POLICY.maxAgeSeconds) });
    response.end();
    return;
  }
  const requestId = randomUUID();
  const body = await readBody(request);
  if (body === undefined) {
    const reply = errorResponse(options.ctx, payloadTooLarge(), requestId);
    response.writeHead(reply.status, { ...reply.headers, ...CORS_HEADERS, connection: "close" });
    response.end(reply.body);
    return;
  }
  const apiRequest: ApiRequest = {
    method,
    path: rawPath,
    query: Object.fromEntries(url.searchParams.entries()),
    headers: headersOf(request),
    body: body === "" ? undefined : body,
    requestId,
  };
  const { ctx } = options;
  const reply = await handleApiRequest(ctx, options.routes, apiRequest).catch((error: unknown) =>
    errorResponse(ctx, error, requestId),
  );
  response.writeHead(reply.status, { ...reply.headers, ...CORS_HEADERS });
  response.end(reply.body);
}

const redriveSchema = z.object({ message_ids: z.array(z.string()).optional() }).strict();

/** `POST /dlq/redrive` with `{}` (every dead letter) or `{"message_ids": [...]}`: what `npx archive dlq redrive` calls. */
async function redrive(request: IncomingMessage, response: ServerResponse, options: LocalHttpOptions): Promise<void> {
  const body = (await readBody(request)) ?? "";
  let parsed: z.infer<typeof redriveSchema>;
  try {
    parsed = redriveSchema.parse(body.trim() === "" ? {} : JSON.parse(body));
  } catch (error) {
    const message = error instanceof z.ZodError ? error.issues.map((issue) => issue.message).join("; ") : "the body is not JSON";
    return sendJson(response, 400, { error: "invalid_input", message: `POST /dlq/redrive takes {"message_ids"?: [...]}: ${message}` });
  }
  const moved = options.redrive(parsed.message_ids);
  sendJson(response, 200, { redriven: moved.length, messages: moved });
}

export function createLocalHttpServer(options: LocalHttpOptions): Server {
  const server = createServer((request, response) => {
    answer(request, response, options).catch((error: unknown) => {
      logger.error("the local HTTP server failed a request", { url: request.url, error: error instanceof Error ? error : String(error) });
      if (!response.headersSent) sendJson(response, 500, { error: "internal" });
      else response.destroy();
    });
  });
  server.on("upgrade", (request: IncomingMessage, socket, head: Buffer) => {
    if (!options.stream.handleUpgrade(request, socket, head)) {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
    }
  });
  return server;
}
