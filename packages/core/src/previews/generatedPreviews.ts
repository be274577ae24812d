import type { Insertable, Kysely, Selectable } from "kysely";
import type { Database } from "../exposures/imagesTable";
import type { GeneratedPreviewsTable } from "./generatedPreviewsTable";

export type GeneratedPreview = Selectable<GeneratedPreviewsTable>;

/** Records a preview once; a repeated record (a retried check) leaves the first one as it was. */
export async function recordGeneratedPreview(db: Kysely<Database>, preview: Insertable<GeneratedPreviewsTable>): Promise<void> {
  await db.insertInto("generated_previews").values(preview).onConflict((conflict) => conflict.column("base_filename").doNothing()).execute();
}

/** The exposure's generated preview, if its medium jpg was made from its FITS image. */
export async function generatedPreviewOf(db: Kysely<Database>, baseFilename: string): Promise<GeneratedPreview | undefined> {
  return db.selectFrom("generated_previews").selectAll().where("base_filename", "=", baseFilename).executeTakeFirst();
}
