import { describe, expect, it } from "vitest";
import { assertStageConfig, PRODUCTION_NOTICE_QUEUE, stageConfig } from "../../stacks/stageConfig";

const STAGES = ["prod", "dev", "test", "alice"];

describe("stage configuration", () => {
  it("production keeps the existing bucket, tables and database, and retains data", () => {
    const prod = stageConfig("prod");
    expect(prod.bucket).toEqual({ kind: "existing", name: "photonranch-001" });
    expect(prod.runningSystemTables).toEqual({ kind: "existing" });
    expect(prod.database.kind).toBe("existing");
    expect(prod.retainData).toBe(true);
    expect(prod.pointInTimeRecovery).toBe(true);
  });

  it("production sends notices to the queue the production datastreamer reads, and reads S3 events through EventBridge", () => {
    const prod = stageConfig("prod");
    expect(PRODUCTION_NOTICE_QUEUE).toBe("datastreamIncomingQueue-dev");
    expect(prod.datastreamQueue).toEqual({ kind: "existing", name: PRODUCTION_NOTICE_QUEUE });
    expect(prod.objectEvents).toBe("eventbridge");
  });

  it("production runs in shadow mode beside the old service until the switch", () => {
    expect(stageConfig("prod").shadow).toBe(true);
  });

  it("dev owns its bucket, tables, database and notice queue", () => {
    const dev = stageConfig("dev");
    expect(dev.bucket.kind).toBe("new");
    expect(dev.runningSystemTables.kind).toBe("new");
    expect(dev.database.kind).toBe("new");
    expect(dev.datastreamQueue).toEqual({ kind: "new" });
    expect(dev.shadow).toBe(false);
    expect(dev.retainData).toBe(false);
  });

  it("any other name is a self-contained, disposable personal stage", () => {
    const personal = stageConfig("alice");
    expect(personal.stage).toBe("alice");
    expect(personal.bucket.kind).toBe("new");
    expect(personal.runningSystemTables.kind).toBe("new");
    expect(personal.database.kind).toBe("new");
    expect(personal.datastreamQueue.kind).toBe("new");
    expect(personal.objectEvents).toBe("notifications");
    expect(personal.shadow).toBe(false);
    expect(personal.retainData).toBe(false);
  });

  it("keeps anonymous uploads off on every named stage but prod, which allows them per site until it has a token", () => {
    for (const stage of STAGES) {
      expect(stageConfig(stage).allowAnonymousUploads, stage).toBe(stage === "prod" ? "until-site-token" : "false");
      expect(stageConfig(stage).thumbnailHeight, stage).toBe(128);
    }
  });

  it("every stage's settings pass the rules synthesis enforces", () => {
    for (const stage of STAGES) expect(() => assertStageConfig(stageConfig(stage)), stage).not.toThrow();
  });
});

describe("rules no stage may break", () => {
  it("a stage other than prod may not name the production notice queue, by name or by ARN", () => {
    const dev = stageConfig("dev");
    const byName = { ...dev, datastreamQueue: { kind: "existing", name: PRODUCTION_NOTICE_QUEUE } } as const;
    const byArn = {
      ...dev,
      datastreamQueue: { kind: "existing", arn: `arn:aws:sqs:us-east-1:123456789012:${PRODUCTION_NOTICE_QUEUE}` },
    } as const;
    expect(() => assertStageConfig(byName)).toThrow(/dev may not send notices to datastreamIncomingQueue-dev/);
    expect(() => assertStageConfig(byArn)).toThrow(/dev may not send notices/);
  });

  it("a stage that does not own its bucket reads its events through EventBridge, never the bucket's notifications", () => {
    const direct = { ...stageConfig("prod"), objectEvents: "notifications" } as const;
    expect(() => assertStageConfig(direct)).toThrow(/does not own bucket photonranch-001/);
  });

  it("a stage that owns its bucket may choose either source of object events", () => {
    for (const objectEvents of ["notifications", "eventbridge"] as const) {
      expect(() => assertStageConfig({ ...stageConfig("test"), objectEvents })).not.toThrow();
    }
  });
});
