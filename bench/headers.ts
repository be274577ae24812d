import { createServer, connect, type Server, type Socket } from "node:net";
import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { parseHeaderText } from "@archive/core/fits/cards";
import { readFitsHeader } from "@archive/core/fits/hdus";
import { startS3Server } from "@archive/local/s3Server";
import { atLeast, atMost, repeat, row, stats, type Row } from "./harness";
import { generatedFits } from "./fitsFile";
import { loadHeaderText } from "./inputs";
import type { BenchOptions } from "./suite";

const ORIGINAL_HEADERS_PER_SECOND = 1_763;
const PARSES_PER_SAMPLE = 2_000;
const BUCKET = "bench-archive";

/** header_8640.txt parsed from memory (the bytes an upload's GetObject returns), as the original's scanner did. */
async function parseRate(options: BenchOptions): Promise<Row> {
  const text = loadHeaderText();
  let cards = 0;
  const samples = await repeat(
    () => {
      for (let i = 0; i < PARSES_PER_SAMPLE; i += 1) cards += Object.keys(parseHeaderText(text).cards).length;
    },
    { warmup: 3, minRuns: options.quick ? 5 : 15, maxRuns: 200, minTimeMs: options.quick ? 500 : 3000 },
    (ms) => PARSES_PER_SAMPLE / (ms / 1000),
  );
  const parsed = parseHeaderText(text);
  return row({
    bench: "headers",
    figure: `parse header_8640.txt (${Object.keys(parsed.cards).length} keywords)`,
    unit: "headers/s",
    stats: stats(samples),
    better: "higher",
    original: ORIGINAL_HEADERS_PER_SECOND,
    target: atLeast(35_000, "≥ 35,000/s (20×)"),
    note: cards === 0 || parsed.problems.length > 0 ? `problems: ${parsed.problems.join("; ")}` : undefined,
  });
}

/** A TCP relay in front of s3rver that counts the bytes it hands to the client: what was really fetched. */
async function countingProxy(target: URL): Promise<{ endpoint: string; received: () => number; close: () => Promise<void> }> {
  let received = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    upstream.on("data", (chunk: Buffer) => {
      received += chunk.length;
    });
    upstream.pipe(client);
    client.pipe(upstream);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", close).on("error", close);
    upstream.on("close", close).on("error", close);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the relay has no TCP port");
  const { port } = address;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    received: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function isReadable(body: unknown): body is Readable & AsyncIterable<Uint8Array> {
  return typeof body === "object" && body !== null && Symbol.asyncIterator in body && "destroy" in body;
}

/** The header of a 30 MB .fits.bz2 in the local S3, read through a streamed GetObject. */
async function s3HeaderRead(options: BenchOptions): Promise<Row[]> {
  const fits = await generatedFits();
  const s3 = await startS3Server({ bucket: BUCKET });
  const proxy = await countingProxy(new URL(s3.endpoint));
  const client = new S3Client({
    endpoint: proxy.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  });
  try {
    const key = `data/${fits.bz2Path.slice(fits.bz2Path.lastIndexOf("/") + 1)}`;
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: await readFile(fits.bz2Path) }));
    const fetched: number[] = [];
    let keywords = 0;
    const readOnce = async (): Promise<void> => {
      const before = proxy.received();
      const response = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      const body = response.Body;
      if (!isReadable(body)) throw new Error("GetObject returned no stream");
      try {
        keywords = Object.keys((await readFitsHeader(body, "bz2")).cards).length;
      } finally {
        body.destroy();
      }
      // Let bytes already in flight arrive, so the count is what the network carried, not only what was parsed.
      await new Promise((resolve) => setTimeout(resolve, 20));
      fetched.push(proxy.received() - before);
    };
    const samples = await repeat(readOnce, {
      warmup: 2,
      minRuns: options.quick ? 3 : 10,
      maxRuns: 30,
      minTimeMs: options.quick ? 300 : 2000,
    });
    const measuredFetches = fetched.slice(-samples.length);
    const medianFetch = stats(measuredFetches);
    const share = medianFetch.median / fits.bz2Bytes;
    const made = fits.compressSeconds === null ? "cached" : `made now by the ${fits.compressor} in ${fits.compressSeconds.toFixed(1)} s`;
    return [
      row({
        bench: "headers",
        figure: `header of a ${(fits.bz2Bytes / 1e6).toFixed(0)} MB .fits.bz2 from local S3`,
        unit: "ms",
        stats: stats(samples),
        better: "lower",
        note: `${keywords} keywords; s3rver on 127.0.0.1, streamed GetObject, body destroyed after END (file ${made})`,
      }),
      row({
        bench: "headers",
        figure: "  bytes fetched for that header",
        unit: "MB",
        stats: {
          median: medianFetch.median / 1e6,
          min: medianFetch.min / 1e6,
          max: medianFetch.max / 1e6,
          samples: medianFetch.samples,
        },
        better: "lower",
        target: atMost((fits.bz2Bytes * 0.1) / 1e6, "< 10% of the file"),
        note: `${(share * 100).toFixed(1)}% of ${fits.bz2Bytes.toLocaleString("en-US")} bytes, counted at a TCP relay (incl. HTTP headers and socket buffers); one bz2 block is ≈ 0.9 MB`,
      }),
    ];
  } finally {
    client.destroy();
    await proxy.close();
    await s3.close();
  }
}

export async function benchHeaders(options: BenchOptions): Promise<Row[]> {
  return [await parseRate(options), ...(await s3HeaderRead(options))];
}
