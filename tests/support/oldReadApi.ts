/**
 * The SQL the old read API (LCOGT/photonranch-api at e3b69d9, api/db.py) sends for each of its image routes, as
 * SQLAlchemy renders it: the same statements tests/integration/oldReadApi.test.ts runs and interprets, here as plain
 * statements with their parameters, for tests that only need the API's load on the table.
 */

/** The Image model's columns, as SQLAlchemy selects them. */
export const MODEL_COLUMNS =
  "images.image_id, images.base_filename, images.data_type, images.site, images.capture_date, images.sort_date, " +
  "images.right_ascension, images.declination, images.fits_01_exists, images.fits_10_exists, images.jpg_medium_exists, " +
  "images.jpg_small_exists, images.altitude, images.azimuth, images.filter_used, images.airmass, images.exposure_time, " +
  "images.username, images.user_id, images.header";

export interface OldApiQuery {
  route: string;
  text: string;
  values: unknown[];
}

/** A naive UTC timestamp as the API binds it (datetime.fromtimestamp on a Lambda in UTC, or the caller's string). */
const naive = (date: Date) => date.toISOString().replace("T", " ").replace("Z", "");

export const oldApiQueries = {
  /** GET /{site}/latest_images/{n} */
  latestImages: (site: string, n: number): OldApiQuery => ({
    route: "latest_images",
    text:
      `SELECT ${MODEL_COLUMNS} FROM images WHERE images.site = $1 AND images.jpg_medium_exists IS true ` +
      "ORDER BY images.sort_date DESC LIMIT $2",
    values: [site, String(n)],
  }),

  /** GET /latest_image_all_sites, for one site */
  latestImageOfSite: (site: string): OldApiQuery => ({
    route: "latest_image_all_sites",
    text:
      `SELECT ${MODEL_COLUMNS} FROM images WHERE images.site = $1 AND images.jpg_medium_exists = true ` +
      "ORDER BY images.sort_date DESC LIMIT 1",
    values: [site],
  }),

  /** GET /fitsheader/{base_filename} */
  fitsHeader: (baseFilename: string): OldApiQuery => ({
    route: "fitsheader",
    text: "SELECT images.header FROM images WHERE images.base_filename = $1",
    values: [baseFilename],
  }),

  /** GET /image/{base_filename} */
  image: (baseFilename: string): OldApiQuery => ({
    route: "image",
    text: `SELECT ${MODEL_COLUMNS} FROM images WHERE images.base_filename = $1 AND images.jpg_medium_exists IS true`,
    values: [baseFilename],
  }),

  /** GET /filtered_images?site=…&start_date=…&end_date=… (the frontend's night view) */
  filteredImagesOfNight: (site: string, start: Date, end: Date): OldApiQuery => ({
    route: "filtered_images",
    text:
      `SELECT ${MODEL_COLUMNS} FROM images WHERE images.site = $1 AND images.capture_date >= $2 AND ` +
      "images.capture_date <= $3 AND images.jpg_medium_exists IS true ORDER BY images.sort_date DESC",
    values: [site, naive(start), naive(end)],
  }),

  /** POST /downloadzip with fits_size small */
  filesWithinDateRange: (site: string, start: Date, end: Date): OldApiQuery => ({
    route: "downloadzip",
    text:
      `SELECT ${MODEL_COLUMNS} FROM images WHERE images.site = $1 AND images.capture_date >= $2 AND ` +
      "images.capture_date <= $3 AND images.fits_10_exists IS true",
    values: [site, naive(start), naive(end)],
  }),
};
