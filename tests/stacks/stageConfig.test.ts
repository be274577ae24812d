import { describe, expect, it } from "vitest";
import { stageConfig } from "../../stacks/stageConfig";

describe("stage configuration", () => {
  it("production keeps the existing bucket, database and datastreamer queue, and retains data", () => {
    const prod = stageConfig("prod");
    expect(prod.bucket).toEqual({ kind: "existing", name: "photonranch-001" });
    expect(prod.database.kind).toBe("existing");
    expect(prod.datastreamQueue).toEqual({ kind: "existing", name: "datastreamIncomingQueue-prod" });
    expect(prod.retainData).toBe(true);
    expect(prod.pointInTimeRecovery).toBe(true);
  });

  it("dev owns its bucket and database but writes to the dev datastreamer", () => {
    const dev = stageConfig("dev");
    expect(dev.bucket.kind).toBe("new");
    expect(dev.database.kind).toBe("new");
    expect(dev.datastreamQueue).toEqual({ kind: "existing", name: "datastreamIncomingQueue-dev" });
    expect(dev.retainData).toBe(false);
  });

  it("any other name is a self-contained, disposable personal stage", () => {
    const personal = stageConfig("alice");
    expect(personal.stage).toBe("alice");
    expect(personal.bucket.kind).toBe("new");
    expect(personal.database.kind).toBe("new");
    expect(personal.datastreamQueue.kind).toBe("new");
    expect(personal.retainData).toBe(false);
  });

  it("keeps anonymous uploads off and 128 px thumbnails on every named stage", () => {
    for (const stage of ["prod", "dev", "test", "alice"]) {
      expect(stageConfig(stage).allowAnonymousUploads, stage).toBe(false);
      expect(stageConfig(stage).thumbnailHeight, stage).toBe(128);
    }
  });
});
