import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { demoExposure } from "@archive/cli/demoExposure";
import { uploadFile } from "@archive/cli/upload";
import { startLocalArchive, type LocalArchive } from "@archive/local/archive";
import { findFreePortRange } from "@archive/local/ports";
import { runArchiveCli as archive, tempStateDir, uniqueSite } from "./harness";

const planSchema = z.object({
  site: z.string(),
  deletions: z.number(),
  pinned: z.number(),
  entries: z.array(z.object({ base_filename: z.string(), expires_at: z.string().nullable(), action: z.string(), pin: z.unknown() })),
});

// `npx archive expire --dry-run`, `pin` and `unpin` as a user runs them, against a local archive holding EP exposures
// (kept 7 days by the seeded policies), and the local TTL emulation deleting what is due.
describe("npx archive expire --dry-run, pin, unpin", () => {
  let state: Awaited<ReturnType<typeof tempStateDir>>;
  let local: LocalArchive;
  const site = uniqueSite();
  const bases: string[] = [];

  beforeAll(async () => {
    state = await tempStateDir("cli-expiry");
    local = await startLocalArchive({ port: await findFreePortRange(), stateDir: state.path, logLevel: "SILENT" });
    for (const counter of [1, 2]) {
      const exposure = await demoExposure({ site, instrument: "cam01", counter, captureTime: new Date(Date.UTC(2026, 10, 29, 3, counter)), seed: counter, jpgWidth: 60 });
      const header = exposure.files.find((file) => file.name.endsWith(".txt"));
      if (!header) throw new Error(`the demo exposure ${exposure.baseFilename} has no header text`);
      // Sent as an EP header: the data type the policies expire after 7 days.
      await uploadFile({ api: local.url }, { fileName: header.name.replace("-EX01.txt", "-EP01.txt"), bytes: header.bytes, directory: "data" });
      bases.push(exposure.baseFilename);
    }
    await local.dispatcher.whenIdle();
  }, 120_000);

  afterAll(async () => {
    await local?.stop();
    await state?.remove();
  });

  const rowExists = async (base: string) => (await fetch(`${local.url}/fitsheader/${base}`)).status === 200;

  it("lists the site's exposures that would be deleted, in the order they come due, without a token locally", async () => {
    const result = await archive("expire", "--dry-run", "--site", site, "--json", "--api", local.url);

    expect(result).toMatchObject({ code: 0 });
    const plan = planSchema.parse(JSON.parse(result.stdout));
    expect(plan).toMatchObject({ site, deletions: 2, pinned: 0 });
    expect(plan.entries.map((entry) => entry.base_filename).sort()).toEqual([...bases].sort());
    const times = plan.entries.map((entry) => Date.parse(entry.expires_at ?? ""));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(times[0]).toBeGreaterThan(Date.now() + 6.9 * 86_400_000);
  });

  it("pins an exposure, which the plan then shows kept, and which survives its expiry until unpinned", async () => {
    const [pinned, other] = bases;
    if (!pinned || !other) throw new Error("no exposures");

    const pin = await archive("pin", pinned, "--note", "a flare", "--api", local.url);
    const text = await archive("expire", "--dry-run", "--site", site, "--api", local.url);
    // Past both entries' expiry: the sweep deletes the other exposure and keeps the pinned one.
    await local.ttl.runOnce(new Date(Date.now() + 8 * 86_400_000));
    const keptAfterExpiry = await rowExists(pinned);
    const otherAfterExpiry = await rowExists(other);
    const unpin = await archive("unpin", pinned, "--api", local.url);
    await local.ttl.runOnce(new Date(Date.now() + 2 * 3_600_000));

    expect(pin).toMatchObject({ code: 0 });
    expect(pin.stdout).toContain(`${pinned} pinned by local`);
    expect(text.stdout.split("\n")[0]).toMatch(new RegExp(`^${site}: 1 to delete, 1 pinned \\(dry run at `));
    expect(text.stdout).toContain(`\tkeep\tdata\t${pinned}\tpinned by local at `);
    expect(text.stdout).toContain(": a flare\n");
    expect(keptAfterExpiry).toBe(true);
    expect(otherAfterExpiry).toBe(false);
    expect(unpin).toMatchObject({ code: 0 });
    expect(unpin.stdout).toMatch(new RegExp(`${pinned} unpinned; its expiry had passed: it expires again at `));
    expect(await rowExists(pinned)).toBe(false);
  });

  it("serves PUT and DELETE /pin through the local HTTP server, and allows them across origins", async () => {
    const exposure = await demoExposure({ site, instrument: "cam02", counter: 3, captureTime: new Date(Date.UTC(2026, 10, 29, 4)), seed: 3, jpgWidth: 60 });
    const header = exposure.files.find((file) => file.name.endsWith(".txt"));
    if (!header) throw new Error("no header text");
    await uploadFile({ api: local.url }, { fileName: header.name, bytes: header.bytes, directory: "data" });
    await local.dispatcher.whenIdle();
    const url = `${local.url}/pin/${exposure.baseFilename}`;

    const preflight = await fetch(url, { method: "OPTIONS" });
    const put = await fetch(url, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ note: "n" }) });
    const removed = await fetch(url, { method: "DELETE" });
    const again = await fetch(url, { method: "DELETE" });

    expect(preflight.headers.get("access-control-allow-methods")).toEqual(expect.stringContaining("PUT, DELETE"));
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ base_filename: exposure.baseFilename, pinned_by: "local", note: "n" });
    expect(removed.status).toBe(200);
    // An EX exposure: no lifetime, so nothing to schedule.
    expect(await removed.json()).toEqual({ base_filename: exposure.baseFilename, expires_at: null, expiry: "kept" });
    expect(again.status).toBe(404);
  });

  it("answers expire without --dry-run with the usage and exit code 2: deleting is not offered", async () => {
    const result = await archive("expire", "--site", site);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain("expire offers only --dry-run");
  });

  it("answers pin of an exposure the archive does not hold with the API's reason and exit code 1", async () => {
    const result = await archive("pin", `${site}-cam01-20261129-00009999`, "--api", local.url);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/404: no exposure/);
  });
});
