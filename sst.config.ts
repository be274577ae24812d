import type { SSTConfig } from "sst";
import { APP_NAME, APP_REGION } from "./stacks/stageConfig";
import { archiveStacks } from "./stacks";
import { buildSharpLayer } from "./scripts/sharpLayer";

export default {
  config() {
    return { name: APP_NAME, region: APP_REGION };
  },
  async stacks(app) {
    // The layer directory must exist before the stacks reference it as an asset.
    await buildSharpLayer();
    archiveStacks(app);
  },
} satisfies SSTConfig;
