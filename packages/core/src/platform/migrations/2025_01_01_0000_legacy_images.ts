import { sql, type Kysely } from "kysely";

/**
 * The `images` table as the system we replace created it (seed 004). Production already has it, so this only
 * creates it where it is missing (new stages, tests); everything after this migration must hold on that shape.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS images (
      image_id serial PRIMARY KEY,
      base_filename varchar(29),
      site varchar(6),
      capture_date timestamp without time zone,
      sort_date timestamp without time zone,
      right_ascension double precision,
      declination double precision,
      altitude double precision,
      azimuth double precision,
      header varchar,
      filter_used varchar,
      airmass double precision,
      user_id varchar,
      username varchar,
      fits_01_exists boolean NOT NULL DEFAULT false,
      fits_10_exists boolean NOT NULL DEFAULT false,
      jpg_medium_exists boolean NOT NULL DEFAULT false,
      jpg_small_exists boolean NOT NULL DEFAULT false,
      data_type varchar
    )
  `.execute(db);
}
