import { describe, expect, it } from "vitest";
import { compareSequencers, normalizeSequencer, objectRefsFromEvent, reingestSequencer } from "@archive/core/deliveries/s3Events";
import { reconcileDays } from "@archive/core/quarantine/reconcile";

describe("a re-ingestion's sequencer", () => {
  const recorded = normalizeSequencer("0062D4E6F3A1B2C3D4");

  it("sorts after the recorded event's and before the next whole sequencer, as normalized strings too", () => {
    const first = reingestSequencer(recorded);

    expect(first).toBe("62D4E6F3A1B2C3D4.00000001");
    expect(compareSequencers(first, recorded)).toBe(1);
    expect(compareSequencers(first, "0062D4E6F3A1B2C3D5")).toBe(-1);
    expect(normalizeSequencer(first) > recorded).toBe(true);
  });

  it("counts on from a recorded re-ingestion, and starts from zero when nothing was recorded", () => {
    const second = reingestSequencer(normalizeSequencer(reingestSequencer(recorded)));

    expect(second).toBe("62D4E6F3A1B2C3D4.00000002");
    expect(compareSequencers(second, reingestSequencer(recorded))).toBe(1);
    expect(reingestSequencer(undefined)).toBe("0.00000001");
    expect(compareSequencers(reingestSequencer(undefined), "1")).toBe(-1);
  });

  it("is accepted in an S3 notification, where another suffix is not", () => {
    const notification = (sequencer: string) => ({
      Records: [
        {
          eventSource: "aws:s3",
          eventName: "ObjectCreated:Put",
          eventTime: "2024-03-12T04:00:00.000Z",
          s3: { bucket: { name: "b" }, object: { key: "data/x", size: 1, eTag: "e", sequencer } },
        },
      ],
    });

    expect(objectRefsFromEvent(notification("62D4.00000001"))[0]?.sequencer).toBe("62D4.00000001");
    expect(() => objectRefsFromEvent(notification("62D4.1"))).toThrow(/sequencer/);
  });
});

describe("the reconciler's days", () => {
  it("lists the night dates from the day before `since` to the day after `until`", () => {
    expect(reconcileDays(new Date("2024-03-12T01:00:00Z"), new Date("2024-03-12T03:00:00Z"))).toEqual(["20240311", "20240312", "20240313"]);
    expect(reconcileDays(new Date("2024-02-28T23:00:00Z"), new Date("2024-03-01T01:00:00Z"))).toEqual([
      "20240227",
      "20240228",
      "20240229",
      "20240301",
      "20240302",
    ]);
  });
});
