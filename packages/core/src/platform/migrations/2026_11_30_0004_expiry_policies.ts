import { sql, type Kysely } from "kysely";

/**
 * Expiry as data. `expiry_policies`: the lifetime of data/ exposures per site and data type (site `*` for every site;
 * the site's own row wins; a NULL lifetime, or no row, keeps the exposure), seeded with the lifetimes the code held
 * until now: EP 7 days, EF 1 day, and 5 minutes for both at the test site `tst`. `pinned_exposures`: exposures an
 * operator keeps past their expiry. Two new tables: nothing the running system reads changes.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS expiry_policies (
      site text NOT NULL CHECK (site = '*' OR site ~ '^[A-Za-z0-9]{3,6}$'),
      data_type text NOT NULL CHECK (data_type ~ '^[A-Z]+$'),
      lifetime_seconds integer CHECK (lifetime_seconds > 0),
      PRIMARY KEY (site, data_type)
    )
  `.execute(db);
  await sql`
    INSERT INTO expiry_policies (site, data_type, lifetime_seconds)
    VALUES ('*', 'EP', 604800), ('*', 'EF', 86400), ('tst', 'EP', 300), ('tst', 'EF', 300)
    ON CONFLICT (site, data_type) DO NOTHING
  `.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS pinned_exposures (
      base_filename varchar(64) PRIMARY KEY,
      site text NOT NULL,
      pinned_at timestamp NOT NULL,
      pinned_by text NOT NULL,
      note text
    )
  `.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS pinned_exposures_site_idx ON pinned_exposures (site)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS pinned_exposures`.execute(db);
  await sql`DROP TABLE IF EXISTS expiry_policies`.execute(db);
}
