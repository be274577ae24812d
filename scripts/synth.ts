import { cp, mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { App } from "sst/constructs";
import { initProject } from "sst/project.js";
import { z } from "zod";
import { archiveStacks } from "../stacks";
import { APP_NAME, APP_REGION } from "../stacks/stageConfig";
import { buildSharpLayer } from "./sharpLayer";

/**
 * `npm run synth [stage]`: every stack's CloudFormation template and every function bundle, without AWS.
 * `sst build` asks STS for the account and hangs offline, so this synthesizes as the stack tests do: SST's App in
 * deploy mode with a fixed account and region. Output: synth/<stage>/<stack>.json, synth/<stage>/bundles/<asset>/,
 * and the full cloud assembly in synth/<stage>/assembly.
 */
export const SYNTH_ACCOUNT = "123456789012";

export interface SynthResult {
  stage: string;
  dir: string;
  /** Stack name → template file. */
  templates: Record<string, string>;
  /** "<stack>/<logical id>" of each function and layer → its bundle directory. */
  bundles: Record<string, string>;
}

const assetMetadata = z.object({ "aws:asset:path": z.string(), "aws:asset:property": z.string() });
const templateSchema = z.object({
  Resources: z.record(z.object({ Type: z.string(), Metadata: z.record(z.unknown()).optional() }).passthrough()),
});

/**
 * SST's App.finish() looks up the bootstrap bucket in AWS unless it believes a test is running, so this runs with
 * NODE_ENV=test: `npm run synth` sets it, and vitest sets it for the tests.
 */
export async function synthesize(stage: string, dir = path.resolve("synth", stage)): Promise<SynthResult> {
  await buildSharpLayer();
  await initProject({ stage });
  await rm(dir, { recursive: true, force: true });
  const assemblyDir = path.join(dir, "assembly");
  const app = new App(
    { mode: "deploy", stage, name: APP_NAME, region: APP_REGION, account: SYNTH_ACCOUNT },
    { outdir: assemblyDir, context: { "aws:cdk:enable-asset-metadata": true } },
  );
  archiveStacks(app);
  await app.finish();
  const assembly = app.synth();

  const templates: Record<string, string> = {};
  const bundles: Record<string, string> = {};
  for (const stack of assembly.stacks) {
    const file = path.join(dir, `${stack.stackName}.json`);
    await writeFile(file, JSON.stringify(stack.template, null, 2));
    templates[stack.stackName] = file;
    const template = templateSchema.parse(stack.template);
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      if (resource.Type !== "AWS::Lambda::Function" && resource.Type !== "AWS::Lambda::LayerVersion") continue;
      const asset = assetMetadata.safeParse(resource.Metadata);
      if (!asset.success) continue;
      const bundle = path.join(dir, "bundles", `${stack.stackName}-${logicalId}`);
      await mkdir(path.dirname(bundle), { recursive: true });
      await cp(path.join(assemblyDir, asset.data["aws:asset:path"]), bundle, { recursive: true, dereference: true });
      bundles[`${stack.stackName}/${logicalId}`] = bundle;
    }
  }
  return { stage, dir, templates, bundles };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const stage = process.argv[2] ?? "dev";
  const result = await synthesize(stage);
  console.log(`synthesized stage ${stage} into ${path.relative(process.cwd(), result.dir)}/`);
  for (const file of Object.values(result.templates)) console.log(`  ${path.relative(process.cwd(), file)}`);
  console.log(`  ${Object.keys(result.bundles).length} bundles under ${path.relative(process.cwd(), result.dir)}/bundles/`);
}
