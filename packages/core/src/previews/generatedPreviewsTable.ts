/**
 * generated_previews: the medium jpgs the archive made from FITS images (which exposure, from which file, when, and how
 * long it took). Its own module, so imagesTable.ts' Database names it without an import cycle.
 */
export interface GeneratedPreviewsTable {
  base_filename: string;
  source_key: string;
  jpg_key: string;
  generated_at: Date;
  milliseconds: number;
}
