import { writeFile } from "node:fs/promises";
import { exposureArchivedJsonSchema } from "../packages/core/src/exposures/archivedEvent";

/** Writes the published events' JSON Schemas (docs/events/) from their zod definitions in core. */
const file = new URL("../docs/events/exposure-archived.v1.json", import.meta.url);
await writeFile(file, `${JSON.stringify(exposureArchivedJsonSchema(), null, 2)}\n`);
console.log(`wrote ${file.pathname}`);
