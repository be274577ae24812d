import path from "node:path";
import { Code, LayerVersion, Architecture, Runtime } from "aws-cdk-lib/aws-lambda";
import type { Construct } from "constructs";

/** Built by scripts/sharpLayer.ts: `nodejs/node_modules/{sharp,@img/sharp-linux-arm64,@img/sharp-libvips-linux-arm64,…}`. */
export const SHARP_LAYER_DIR = path.resolve(".build", "sharp-layer");

/** The project's own sharp version with its linux-arm64 binaries, so Lambda runs exactly what the tests ran. */
export function sharpLayer(scope: Construct): LayerVersion {
  return new LayerVersion(scope, "SharpLayer", {
    code: Code.fromAsset(SHARP_LAYER_DIR),
    compatibleArchitectures: [Architecture.ARM_64],
    compatibleRuntimes: [Runtime.NODEJS_22_X],
    description: "sharp for linux-arm64 (glibc), the version in package-lock.json",
  });
}
