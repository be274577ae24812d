import { describe, expect, test } from "vitest";
import { uploadTimestamp } from "@archive/core/deliveries/uploadLog";
import { infoFileAttributes } from "@archive/core/names/storedFiles";
import { knownObjectKey } from "../support/objectEvents";

// The running system's attribute rules (ptr_data's info_images.py, s3_log.py) as this archive writes them.

describe("info-image file attributes", () => {
  test.each([
    ["EX10.jpg", { jpg_10_file_path: true, jpg_medium_exists: true }],
    ["EX11.jpg", { jpg_11_file_path: true, jpg_small_exists: true }],
    ["EX13.jpg", { jpg_13_file_path: true, other_jpg_13_exists: true }],
    ["EX00.fits.bz2", { fits_00_file_path: true, fits_00_exists: true }],
    ["EX01.fits.fz", { fits_01_file_path: true, fits_01_exists: true }],
    ["EX10.FITS", { fits_10_file_path: true, fits_10_exists: true }],
    ["EX00.txt", { txt_00_file_path: true, other_txt_00_exists: true }],
  ])("%s sets its {ext}_{RR}_file_path to the full key and its flag", (suffix, expected) => {
    // Prepare
    const key = `info-images/sro-kb001ms-20220629-00000001-${suffix}`;

    // Act
    const attributes = infoFileAttributes(knownObjectKey(key));

    // Assess
    const [path, flag] = Object.keys(expected);
    expect(attributes).toEqual({ [path ?? ""]: key, [flag ?? ""]: true });
  });
});

describe("upload-log timestamps", () => {
  const upload = { key: "data/sro-kb001ms-20220629-00000001-EX10.jpg", sequencer: "0062B0A1F2C3D4E5F6" };

  test("a repeated delivery of one event gets the same timestamp", () => {
    const at = new Date("2024-03-12T05:06:07.891Z");

    expect(uploadTimestamp({ ...upload, uploadedAt: at })).toBe(uploadTimestamp({ ...upload, uploadedAt: new Date(at) }));
  });

  test("it keeps the event's millisecond and tells two events of one millisecond apart below it", () => {
    const at = new Date("2024-03-12T05:06:07.891Z");

    const first = uploadTimestamp({ ...upload, uploadedAt: at });
    const again = uploadTimestamp({ ...upload, sequencer: "0062B0A1F2C3D4E5F7", uploadedAt: at });

    expect(first).not.toBe(again);
    for (const value of [first, again]) {
      expect(value).toBeGreaterThanOrEqual(at.getTime() / 1000);
      expect(value).toBeLessThan((at.getTime() + 1) / 1000);
    }
  });

  test("a time in whole seconds (EventBridge's) spreads events over that second", () => {
    const at = new Date("2024-03-12T05:06:07.000Z");

    const values = Array.from({ length: 50 }, (_, i) => uploadTimestamp({ ...upload, sequencer: `0062B0A1F2C3D4E${i}`, uploadedAt: at }));

    expect(new Set(values).size).toBe(50);
    expect(values.every((value) => Math.floor(value) === at.getTime() / 1000)).toBe(true);
  });

  test("its decimal text is exact, so an item read back is deleted by the key it was written with", () => {
    for (let i = 0; i < 1000; i++) {
      const value = uploadTimestamp({ ...upload, sequencer: `00${i}`, uploadedAt: new Date(1_700_000_000_000 + i * 7) });
      expect(Number(String(value))).toBe(value);
      expect(String(value)).toMatch(/^\d{10}(\.\d{1,6})?$/);
    }
  });
});
