import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadDemo } from "@archive/cli/commands";
import { startLocalArchive, type LocalArchive } from "@archive/local/archive";
import { findFreePortRange } from "@archive/local/ports";
import { useTestDatabase } from "../support/database";
import { fetchHealth, tempStateDir, uniqueSite } from "./harness";

// With DATABASE_URL naming a server, the local archive migrates that database and writes its rows there.
const testDatabase = useTestDatabase({ migrate: false });
const quiet = { write: () => true };

describe("the local archive on a real Postgres server", () => {
  let archive: LocalArchive;
  let state: Awaited<ReturnType<typeof tempStateDir>>;

  beforeAll(async () => {
    state = await tempStateDir("postgres");
    archive = await startLocalArchive({ port: await findFreePortRange(), stateDir: state.path, databaseUrl: testDatabase.url });
  });

  afterAll(async () => {
    await archive?.stop();
    await state?.remove();
  });

  it("migrates the named database and records uploaded exposures in it", async () => {
    const site = uniqueSite();

    const { exposures } = await uploadDemo({ api: archive.url, site, count: 1 }, quiet);
    await archive.dispatcher.whenIdle();

    const base = exposures[0]?.baseFilename ?? "";
    const row = await testDatabase.db
      .selectFrom("images")
      .select(["site", "jpg_small_exists", "fits_10_exists"])
      .where("base_filename", "=", base)
      .executeTakeFirst();
    expect(row).toEqual({ site, jpg_small_exists: true, fits_10_exists: true });
    expect((await fetchHealth(archive.url)).database).toBe("postgres");
  });
});
