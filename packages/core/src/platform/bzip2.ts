import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

/**
 * bzip2 compression for downloads (TIFF), demo fits files, and the test and bench fixtures: libbzip2 1.0.8 compiled to WebAssembly,
 * as the bzip2-wasm package ships it (bzip2 licence, BSD-style). No native build, no `bzip2` binary.
 *
 * The package's own JavaScript wrapper needs an async init(), sets globalThis.require and globalThis.__dirname, and
 * adds process-wide uncaughtException and unhandledRejection listeners that rethrow. So its bzip2.wasm is instantiated
 * here, synchronously, with the six host functions it imports, and BZ2_bzBuffToBuffCompress is called as libbzip2
 * documents it. The export and import names are those of bzip2-wasm 1.0.1, pinned exactly in packages/core/package.json.
 */

type WasmFunction = (...args: number[]) => number;

/** The part of the WebAssembly JS API used here: the project's types (lib ES2023, @types/node 20) do not declare it. */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (
    module: object,
    imports: Record<string, Record<string, unknown>>,
  ) => { readonly exports: Record<string, unknown> };
  Memory: abstract new (...args: never[]) => WasmMemory;
}
const WebAssemblyApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface Libbzip2 {
  memory: WasmMemory;
  malloc: WasmFunction;
  compress: WasmFunction;
}

/** libbzip2's return codes (bzlib.h). */
const STATUS: Record<number, string> = {
  [-1]: "BZ_SEQUENCE_ERROR",
  [-2]: "BZ_PARAM_ERROR",
  [-3]: "BZ_MEM_ERROR",
  [-8]: "BZ_OUTBUFF_FULL",
  [-9]: "BZ_CONFIG_ERROR",
};

const WASM_PAGE = 65536;

let compiled: object | undefined;

function wasmModule(): object {
  if (compiled === undefined) {
    const path = createRequire(import.meta.url).resolve("bzip2-wasm/bzip2-1.0.8/bzip2.wasm");
    compiled = new WebAssemblyApi.Module(readFileSync(path));
  }
  return compiled;
}

function exported(exports: Record<string, unknown>, name: string): WasmFunction {
  const value = exports[name];
  if (typeof value !== "function") throw new TypeError(`bzip2.wasm does not export the function ${name}`);
  return value as WasmFunction;
}

/** A fresh instance per call: its memory (twice the input, plus 8 MB) goes with it, and no state carries over. */
function instantiate(): Libbzip2 {
  // Set once the instance exists; the host functions below are only called after that.
  const state: { memory?: WasmMemory; diagnostics: string } = { diagnostics: "" };
  const memory = (): WasmMemory => {
    if (state.memory === undefined) throw new Error("bzip2.wasm called a host function before it was instantiated");
    return state.memory;
  };
  const heap = (): Uint8Array => new Uint8Array(memory().buffer);
  const env = {
    emscripten_memcpy_big: (dest: number, src: number, length: number): void => {
      heap().copyWithin(dest, src, src + length);
    },
    emscripten_resize_heap: (requested: number): number => {
      try {
        memory().grow(Math.ceil(((requested >>> 0) - memory().buffer.byteLength) / WASM_PAGE));
        return 1;
      } catch {
        return 0;
      }
    },
    exit: (code: number): never => {
      const said = state.diagnostics.trim();
      throw new Error(`libbzip2 stopped with exit code ${code}${said ? `: ${said}` : ""}`);
    },
  };
  const wasi = {
    // libbzip2 writes to stderr only on an internal error, just before exit(3): kept for that error's message.
    fd_write: (_fd: number, iovs: number, count: number, written: number): number => {
      const view = new DataView(heap().buffer);
      let total = 0;
      for (let i = 0; i < count; i += 1) {
        const base = view.getUint32(iovs + i * 8, true);
        const length = view.getUint32(iovs + i * 8 + 4, true);
        state.diagnostics += Buffer.from(heap().subarray(base, base + length)).toString("latin1");
        total += length;
      }
      view.setUint32(written, total, true);
      return 0;
    },
    fd_close: (): number => 0,
    fd_seek: (): number => 70, // ESPIPE, as Emscripten's own runtime answers without a file system
  };
  const instance = new WebAssemblyApi.Instance(wasmModule(), { env, wasi_snapshot_preview1: wasi });
  const exports = instance.exports;
  if (!(exports.memory instanceof WebAssemblyApi.Memory)) throw new TypeError("bzip2.wasm does not export its memory");
  state.memory = exports.memory;
  exported(exports, "__wasm_call_ctors")();
  return {
    memory: exports.memory,
    malloc: exported(exports, "malloc"),
    compress: exported(exports, "BZ2_bzBuffToBuffCompress"),
  };
}

/**
 * The .bz2 file of the input: one bzip2 stream, blocks of blockSize100k × 100 kB (1–9, as `bzip2 -1` … `bzip2 -9`,
 * whose default 9 this keeps).
 */
export function bzip2(input: Uint8Array, blockSize100k = 9): Buffer {
  if (!Number.isInteger(blockSize100k) || blockSize100k < 1 || blockSize100k > 9) {
    throw new RangeError(`the bzip2 block size must be an integer from 1 to 9, not ${blockSize100k}`);
  }
  const lib = instantiate();
  // libbzip2's manual: the output is at most 1% larger than the input, plus 600 bytes.
  const capacity = Math.ceil(input.length * 1.01) + 600;
  const source = lib.malloc(Math.max(input.length, 1));
  const dest = lib.malloc(capacity);
  const destLength = lib.malloc(4);
  if (source === 0 || dest === 0 || destLength === 0) {
    throw new RangeError(`bzip2.wasm could not allocate memory for ${input.length} bytes`);
  }
  new Uint8Array(lib.memory.buffer).set(input, source);
  new DataView(lib.memory.buffer).setUint32(destLength, capacity, true);
  // verbosity 0, workFactor 0 (libbzip2's default, 30)
  const status = lib.compress(dest, destLength, source, input.length, blockSize100k, 0, 0);
  if (status !== 0) throw new Error(`libbzip2 could not compress: ${STATUS[status] ?? `status ${status}`}`);
  const length = new DataView(lib.memory.buffer).getUint32(destLength, true);
  return Buffer.from(new Uint8Array(lib.memory.buffer, dest, length));
}
