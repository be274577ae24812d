import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadDemo } from "@archive/cli/commands";
import { demoExposure } from "@archive/cli/demoExposure";
import { uploadFile } from "@archive/cli/upload";
import { startLocalArchive, type LocalArchive } from "@archive/local/archive";
import { findFreePortRange } from "@archive/local/ports";
import { repoRoot, tempStateDir, uniqueSite } from "./harness";

// The dashboard in Debian's Chromium: it shows a site's exposures and info channels, and a new exposure's thumbnail
// appears without a reload. The screenshot is kept as test-results/dashboard.png.
const CHROMIUM = "/usr/bin/chromium";
const quiet = { write: () => true };

describe("the dashboard", () => {
  let archive: LocalArchive;
  let browser: Browser;
  let state: Awaited<ReturnType<typeof tempStateDir>>;
  const site = uniqueSite();

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: the browser test needs Debian's chromium (apt-get install -y chromium)`);
    }
    state = await tempStateDir("dashboard");
    // Stuck after 3 s, so the operator panel's stuck list fills within the test.
    archive = await startLocalArchive({ port: await findFreePortRange(), stateDir: state.path, stuckAfterMinutes: 0.05 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await archive?.stop();
    await state?.remove();
  });

  it("shows a new exposure's thumbnail live, without reloading the page", async () => {
    await uploadDemo({ api: archive.url, site, count: 2 }, quiet);
    const info = await demoExposure({ site, counter: 4242, captureTime: new Date(), seed: 11, jpgWidth: 300 });
    const infoJpg = info.files.find((file) => file.name.endsWith(".jpg"));
    if (!infoJpg) throw new Error("the demo exposure has no jpg");
    await uploadFile({ api: archive.url }, { fileName: infoJpg.name, bytes: infoJpg.bytes, directory: "info-images", channel: 2 });
    await archive.dispatcher.whenIdle();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${archive.url}/?site=${site}`);
    await page.locator("#live[data-state=open]").waitFor({ timeout: 15_000 });
    await page.locator(".exposure").first().waitFor({ timeout: 15_000 });
    const exposuresBefore = await page.locator(".exposure").count();
    // Page scripts are strings here: the test's TypeScript has no DOM types.
    await page.evaluate("window.samePage = true");

    const { exposures } = await uploadDemo({ api: archive.url, site, count: 1 }, quiet);
    const base = exposures[0]?.baseFilename ?? "";
    const thumbnail = page.locator(`img[data-base="${base}"][data-kind="thumbnail"]`);
    await thumbnail.waitFor({ state: "visible", timeout: 30_000 });
    await page.waitForFunction(
      `(() => { const image = document.querySelector('img[data-base="${base}"][data-kind="thumbnail"]');` +
        " return image !== null && image.complete && image.naturalWidth > 0; })()",
    );
    await page.locator("#uploads td.file", { hasText: `${base}-EX10.jpg` }).waitFor({ timeout: 15_000 });
    // The night view (the frontend's /filtered_images call for the site's last night) shows it too.
    await page.locator(`.night-exposure[data-base="${base}"]`).waitFor({ timeout: 15_000 });
    await mkdir(join(repoRoot, "test-results"), { recursive: true });
    const screenshot = join(repoRoot, "test-results", "dashboard.png");
    await page.screenshot({ path: screenshot, fullPage: true });

    expect(await page.evaluate('"samePage" in window')).toBe(true);
    expect(await page.locator(".exposure").count()).toBe(exposuresBefore + 1);
    expect(await page.locator(".channel.filled").count()).toBe(1);
    expect(await page.locator(".night-exposure").count()).toBe(exposuresBefore + 1);
    expect((await readFile(screenshot)).subarray(1, 4).toString()).toBe("PNG");
  });

  it("shows each exposure's status on its card, and panels for the site's stuck exposures, counter gaps and quarantine", async () => {
    const opsSite = uniqueSite();
    const captureTime = new Date();
    const upload = async (counter: number, keep: (name: string) => boolean, corruptJpg = false) => {
      const exposure = await demoExposure({ site: opsSite, counter, captureTime, seed: counter, jpgWidth: 120 });
      for (const file of exposure.files.filter((candidate) => keep(candidate.name))) {
        const bytes = corruptJpg && file.name.endsWith(".jpg") ? Buffer.from("not a jpeg at all") : file.bytes;
        await uploadFile({ api: archive.url }, { fileName: file.name, bytes, directory: "data" });
      }
      return exposure.baseFilename;
    };
    // Counter 700 arrives whole; 703 never gets its FITS (stuck), and its jpg is corrupt (quarantined); 701 and 702
    // never arrive (a gap).
    const complete = await upload(700, () => true);
    const incomplete = await upload(703, (name) => !name.endsWith(".fits.bz2"), true);
    await archive.dispatcher.whenIdle();
    await new Promise((resolve) => setTimeout(resolve, 3_500));

    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    await page.goto(`${archive.url}/?site=${opsSite}`);
    const badge = (base: string) => page.locator(`.exposure[data-base="${base}"] .status`);
    await badge(complete).and(page.locator('[data-status="complete"]')).waitFor({ timeout: 15_000 });
    await badge(incomplete).and(page.locator('[data-status="stuck"]')).waitFor({ timeout: 15_000 });
    const stuckItem = page.locator(`#stuck li[data-base="${incomplete}"]`);
    await stuckItem.waitFor({ timeout: 15_000 });
    const gapItem = page.locator('#gaps li[data-instrument="demo01"]');
    await gapItem.first().waitFor({ timeout: 15_000 });
    const quarantined = page.locator(`#quarantine li[data-key="data/${incomplete}-EX10.jpg"]`);
    await quarantined.waitFor({ timeout: 15_000 });
    await mkdir(join(repoRoot, "test-results"), { recursive: true });
    await page.screenshot({ path: join(repoRoot, "test-results", "dashboard-operations.png"), fullPage: true });

    expect(await badge(complete).textContent()).toBe("complete");
    expect(await badge(incomplete).textContent()).toBe("stuck");
    expect(await badge(incomplete).getAttribute("title")).toBe("missing: fits_small");
    expect(await stuckItem.textContent()).toContain("missing fits_small");
    expect(await page.locator("#stuck li").count()).toBe(1);
    expect(await gapItem.allTextContents()).toEqual(["demo01 00000701–00000702"]);
    expect(await page.locator("#gaps-day").textContent()).toBe(`(${complete.split("-")[2]})`);
    expect(await quarantined.textContent()).toContain("corrupt_jpg");
    expect(await page.locator("#quarantine li").count()).toBe(1);
  });
});
