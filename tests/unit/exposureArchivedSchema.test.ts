import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { exposureArchivedDetailSchema, exposureArchivedJsonSchema } from "@archive/core/exposures/archivedEvent";

describe("the exposure-archived event's published schema", () => {
  it("docs/events/exposure-archived.v1.json is the schema core generates (npx tsx scripts/eventSchemas.ts)", async () => {
    const committed: unknown = JSON.parse(await readFile(new URL("../../docs/events/exposure-archived.v1.json", import.meta.url), "utf8"));

    expect(committed).toEqual(exposureArchivedJsonSchema());
  });

  it("requires the version, the image, the header summary, the object keys and the status history", () => {
    const schema = exposureArchivedJsonSchema();

    expect(schema["required"]).toEqual(expect.arrayContaining(["version", "image", "header", "objects", "status_history"]));
    expect(exposureArchivedDetailSchema.safeParse({ version: "2" }).success).toBe(false);
  });
});
