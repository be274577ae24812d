import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { z } from "zod";
import { SHARP_LAYER_DIR } from "../stacks/sharpLayer";

/**
 * Builds the sharp Lambda layer from the sharp this project installs and tests, with the exact
 * @img/sharp-linux-arm64 and @img/sharp-libvips-linux-arm64 versions sharp itself pins.
 * Run: `tsx scripts/sharpLayer.ts` (sst.config.ts and scripts/synth.ts also call it; a built layer is reused).
 */
const run = promisify(execFile);

const sharpManifest = z.object({
  version: z.string(),
  optionalDependencies: z.object({
    "@img/sharp-linux-arm64": z.string(),
    "@img/sharp-libvips-linux-arm64": z.string(),
  }),
});

export const SHARP_BINARY_PACKAGES = ["@img/sharp-linux-arm64", "@img/sharp-libvips-linux-arm64"] as const;

async function projectSharp(): Promise<z.infer<typeof sharpManifest>> {
  const manifest = path.resolve("node_modules", "sharp", "package.json");
  return sharpManifest.parse(JSON.parse(await readFile(manifest, "utf8")));
}

/** The layer's node_modules as Lambda sees it under /opt. */
export function sharpLayerModules(): string {
  return path.join(SHARP_LAYER_DIR, "nodejs", "node_modules");
}

async function installedVersion(packageDir: string): Promise<string | undefined> {
  const manifest = path.join(packageDir, "package.json");
  if (!existsSync(manifest)) return undefined;
  return z.object({ version: z.string() }).parse(JSON.parse(await readFile(manifest, "utf8"))).version;
}

/** Builds the layer unless the one on disk already holds the same versions; returns the sharp version. */
export async function buildSharpLayer(): Promise<string> {
  const sharp = await projectSharp();
  const wanted: Record<string, string> = {
    sharp: sharp.version,
    "@img/sharp-linux-arm64": sharp.optionalDependencies["@img/sharp-linux-arm64"],
    "@img/sharp-libvips-linux-arm64": sharp.optionalDependencies["@img/sharp-libvips-linux-arm64"],
  };
  const modules = sharpLayerModules();
  const present = await Promise.all(
    Object.entries(wanted).map(async ([name, version]) => (await installedVersion(path.join(modules, name))) === version),
  );
  if (present.every(Boolean)) return sharp.version;

  const nodejsDir = path.join(SHARP_LAYER_DIR, "nodejs");
  await rm(SHARP_LAYER_DIR, { recursive: true, force: true });
  await mkdir(nodejsDir, { recursive: true });
  await writeFile(
    path.join(nodejsDir, "package.json"),
    JSON.stringify({ name: "sharp-layer", private: true, dependencies: { sharp: sharp.version } }, null, 2),
  );
  // sharp pins its binaries as exact optional dependencies; these flags make npm pick linux-arm64, not this machine.
  await run(
    "npm",
    [
      "install",
      "--os=linux",
      "--cpu=arm64",
      "--libc=glibc",
      "--omit=dev",
      "--ignore-scripts",
      "--no-package-lock",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      "--workspaces=false",
    ],
    { cwd: nodejsDir },
  );
  for (const [name, version] of Object.entries(wanted)) {
    const got = await installedVersion(path.join(modules, name));
    if (got !== version) throw new Error(`sharp layer: expected ${name}@${version}, npm installed ${got ?? "nothing"}`);
  }
  return sharp.version;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const version = await buildSharpLayer();
  console.log(`sharp ${version} for linux-arm64 in ${SHARP_LAYER_DIR}`);
}
