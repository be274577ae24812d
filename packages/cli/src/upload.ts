import { randomBytes } from "node:crypto";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { z } from "zod";
import type { UploadDirectory } from "@archive/core/names/fileName";

/**
 * Uploading one file the way a site does: ask the API for a presigned POST (`POST /upload`), then send the form's
 * fields and the file straight to S3. Works against the local archive and a deployed stage alike.
 */

export interface UploadTarget {
  /** The API's base URL, e.g. http://localhost:3000 or a stage's https endpoint. */
  api: string;
  /** A site token; the local archive accepts anonymous uploads. */
  token?: string;
}

export interface UploadRequest {
  fileName: string;
  bytes: Buffer;
  directory: UploadDirectory;
  /** Info-image channel 1..3 (info-images only). */
  channel?: number;
}

export interface UploadProgress {
  sent: number;
  total: number;
}

export class UploadFailure extends Error {
  override readonly name = "UploadFailure";
  constructor(
    message: string,
    /** Which step failed: asking the API for the form, or posting the file to storage. */
    readonly stage: "presign" | "transfer",
    readonly status?: number,
  ) {
    super(message);
  }
}

const presignedPostSchema = z.object({ url: z.string().url(), fields: z.record(z.string()) });
export type PresignedPost = z.infer<typeof presignedPostSchema>;

interface HttpReply {
  status: number;
  body: string;
}

async function readReply(response: IncomingMessage): Promise<HttpReply> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return { status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") };
}

/** A short reason from an error body (JSON `{message}` from the API, XML `<Message>` from S3), never the whole page. */
export function replyReason(reply: HttpReply): string {
  const xml = /<Message>([^<]*)<\/Message>/.exec(reply.body)?.[1];
  if (xml) return xml;
  const json = z.object({ message: z.string() }).safeParse(safeJson(reply.body));
  if (json.success) return json.data.message;
  return reply.body.slice(0, 200).trim() || `HTTP ${reply.status}`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

function send(
  url: URL,
  method: string,
  headers: Record<string, string>,
  parts: Buffer[],
  onProgress?: (progress: UploadProgress) => void,
): Promise<HttpReply> {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { method, headers: { ...headers, "content-length": String(total) } }, (response) => {
      readReply(response).then(resolve, reject);
    });
    outgoing.on("error", reject);
    // Written in slices so the progress bar moves with the bytes actually handed to the socket.
    const slice = 64 * 1024;
    let sent = 0;
    const chunks = parts.flatMap((part) =>
      Array.from({ length: Math.ceil(part.length / slice) }, (_, index) => part.subarray(index * slice, (index + 1) * slice)),
    );
    const writeNext = (): void => {
      const chunk = chunks.shift();
      if (chunk === undefined) {
        outgoing.end();
        return;
      }
      outgoing.write(chunk, (error) => {
        if (error) return;
        sent += chunk.length;
        onProgress?.({ sent, total });
        writeNext();
      });
    };
    writeNext();
  });
}

/** Step one: the presigned form for `{directory}/{fileName}`. */
export async function requestUpload(target: UploadTarget, upload: UploadRequest): Promise<PresignedPost> {
  const body = Buffer.from(
    JSON.stringify({
      object_name: upload.fileName,
      s3_directory: upload.directory,
      ...(upload.channel !== undefined ? { info_channel: upload.channel } : {}),
    }),
  );
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (target.token) headers.authorization = /^Bearer\s/i.test(target.token) ? target.token : `Bearer ${target.token}`;
  let reply: HttpReply;
  try {
    reply = await send(new URL("upload", withSlash(target.api)), "POST", headers, [body]);
  } catch (error) {
    const hint = describe(error) === "ECONNREFUSED" ? " (is `npm start` running, or is --api right?)" : "";
    throw new UploadFailure(`cannot reach the API at ${target.api}: ${describe(error)}${hint}`, "presign");
  }
  if (reply.status !== 200) throw new UploadFailure(replyReason(reply), "presign", reply.status);
  const parsed = presignedPostSchema.safeParse(safeJson(reply.body));
  if (!parsed.success) throw new UploadFailure("the API answered without a url and fields", "presign", reply.status);
  return parsed.data;
}

/** Step two: a multipart/form-data POST of the fields, then the file (S3 ignores fields after the file). */
export async function postFile(
  form: PresignedPost,
  upload: UploadRequest,
  onProgress?: (progress: UploadProgress) => void,
): Promise<void> {
  const boundary = `----archive${randomBytes(12).toString("hex")}`;
  const fieldParts = Object.entries(form.fields).map(
    ([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
  );
  const head = Buffer.from(
    fieldParts.join("") +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${upload.fileName}"\r\n` +
      `Content-Type: ${contentType(upload.fileName)}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  let reply: HttpReply;
  try {
    reply = await send(
      new URL(form.url),
      "POST",
      { "content-type": `multipart/form-data; boundary=${boundary}` },
      [head, upload.bytes, tail],
      onProgress ? ({ sent }) => onProgress({ sent: Math.min(Math.max(sent - head.length, 0), upload.bytes.length), total: upload.bytes.length }) : undefined,
    );
  } catch (error) {
    throw new UploadFailure(`cannot reach storage at ${form.url}: ${describe(error)}`, "transfer");
  }
  if (reply.status < 200 || reply.status >= 300) throw new UploadFailure(replyReason(reply), "transfer", reply.status);
}

/** Both steps; resolves with the object key written. */
export async function uploadFile(
  target: UploadTarget,
  upload: UploadRequest,
  onProgress?: (progress: UploadProgress) => void,
): Promise<string> {
  const form = await requestUpload(target, upload);
  await postFile(form, upload, onProgress);
  return form.fields.key ?? `${upload.directory}/${upload.fileName}`;
}

function contentType(fileName: string): string {
  if (fileName.endsWith(".jpg")) return "image/jpeg";
  if (fileName.endsWith(".txt")) return "text/plain";
  return "application/octet-stream";
}

function withSlash(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = "code" in error && typeof error.code === "string" ? error.code : undefined;
    return code ?? error.message;
  }
  return String(error);
}
