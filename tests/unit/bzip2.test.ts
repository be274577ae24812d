import { spawnSync } from "node:child_process";
import { Readable } from "node:stream";
import unbzip2Stream from "unbzip2-stream";
import { describe, expect, it } from "vitest";
import { bzip2 } from "@archive/core/platform/bzip2";

/** What unbzip2-stream (the decoder the archive reads .bz2 with) makes of the bytes. */
function unbzip2(data: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const decoder = unbzip2Stream();
    decoder.on("data", (chunk: Uint8Array) => chunks.push(Buffer.from(chunk)));
    decoder.on("error", reject);
    decoder.on("end", () => resolve(Buffer.concat(chunks)));
    Readable.from([Buffer.from(data)]).pipe(decoder);
  });
}

/** xorshift32 bytes: incompressible, so the .bz2 is larger than its input. */
function noise(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let state = seed;
  for (let i = 0; i < length; i += 1) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}

const hasBinary = spawnSync("bzip2", ["--help"], { stdio: "ignore" }).status === 0;

describe("bzip2 (libbzip2 in WebAssembly)", () => {
  const inputs: [string, Buffer][] = [
    ["empty", Buffer.alloc(0)],
    ["one byte", Buffer.from([0x42])],
    ["FITS-like text", Buffer.from("SIMPLE  =                    T / conforms to FITS".padEnd(80).repeat(10_000))],
    ["incompressible noise", noise(300_000, 7)],
  ];

  it.each(inputs)("%s decodes with unbzip2-stream to the same bytes", async (_name, input) => {
    // Act
    const compressed = bzip2(input);
    // Assert
    expect(compressed.subarray(0, 4).toString("latin1")).toBe("BZh9");
    expect((await unbzip2(compressed)).equals(input)).toBe(true);
  });

  it("a multi-megabyte input of several blocks decodes to the same bytes", async () => {
    // Prepare: 4.5 MB of text, noise and zeros: five 900 kB blocks
    const text = Buffer.from("NAXIS1  = 4096 ".repeat(100_000));
    const input = Buffer.concat([text, noise(2_000_000, 11), Buffer.alloc(1_000_000)]);
    // Act
    const compressed = bzip2(input);
    // Assert
    expect(compressed.length).toBeLessThan(input.length);
    expect((await unbzip2(compressed)).equals(input)).toBe(true);
  });

  it("the block size level sets the header and still decodes", async () => {
    const input = noise(250_000, 3);
    for (const level of [1, 5]) {
      const compressed = bzip2(input, level);
      expect(compressed.subarray(0, 4).toString("latin1")).toBe(`BZh${level}`);
      expect((await unbzip2(compressed)).equals(input)).toBe(true);
    }
  });

  it("rejects a block size outside 1–9", () => {
    expect(() => bzip2(Buffer.from("x"), 0)).toThrow(RangeError);
    expect(() => bzip2(Buffer.from("x"), 10)).toThrow(RangeError);
  });

  it.runIf(hasBinary)("writes what the bzip2 binary writes, and the binary decodes it", () => {
    const input = Buffer.concat([Buffer.from("END".padEnd(2880)), noise(1_200_000, 5)]);
    const compressed = bzip2(input);
    const decoded = spawnSync("bzip2", ["-d", "-c"], { input: compressed, maxBuffer: 16 * 1024 * 1024 });
    expect(decoded.status).toBe(0);
    expect(decoded.stdout.equals(input)).toBe(true);
    const byBinary = spawnSync("bzip2", ["-9", "-c"], { input, maxBuffer: 16 * 1024 * 1024 });
    expect(byBinary.stdout.equals(compressed)).toBe(true);
  });
});
