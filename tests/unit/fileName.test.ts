import { describe, expect, it } from "vitest";
import { InvalidInputError } from "@archive/core/platform/errors";
import {
  assertSiteName,
  decodeS3EventKey,
  fileFlagColumn,
  isKnownFile,
  isMediumJpg,
  isThumbnail,
  objectKeyPrefix,
  parseBaseFilename,
  parseFileName,
  parseObjectKey,
  siblingKey,
  thumbnailKey,
  uploadObjectKey,
  type UploadDirectory,
} from "@archive/core/names/fileName";

/** Runs fn and returns the InvalidInputError it throws (failing the test if it throws anything else or nothing). */
function rejection(fn: () => unknown): InvalidInputError {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidInputError) return error;
    throw error;
  }
  throw new Error("expected an InvalidInputError, nothing was thrown");
}

describe("parseFileName", () => {
  it("splits a compressed fits name into every part", () => {
    // Act
    const file = parseFileName("sro-kb001ms-20220629-00010442-EX10.fits.bz2");

    // Assess
    expect(file).toEqual({
      fileName: "sro-kb001ms-20220629-00010442-EX10.fits.bz2",
      baseFilename: "sro-kb001ms-20220629-00010442",
      site: "sro",
      instrument: "kb001ms",
      date: "20220629",
      counter: "00010442",
      dataType: "EX",
      reduction: "10",
      extension: "fits",
      compression: "bz2",
    });
  });

  it.each([
    ["sro-kb001ms-20220629-00010442-EX01.txt", "txt", null, "EX", "01"],
    ["mrc-sq002ms-20220106-00252513-EX11.jpg", "jpg", null, "EX", "11"],
    ["tst-cam1-20240229-00000001-e13.jpg", "jpg", null, "e", "13"],
    ["saf001-x-20220629-99999999-EP00.fits", "fits", null, "EP", "00"],
    ["sro-kb001ms-20220629-00010442-EFAB01.fits.fz", "fits", "fz", "EFAB", "01"],
    ["sro-kb001ms-20000229-00010442-EX10.fits.gz", "fits", "gz", "EX", "10"],
  ])("accepts %s", (name, extension, compression, dataType, reduction) => {
    // Act
    const file = parseFileName(name);

    // Assess
    expect(file).toMatchObject({ extension, compression, dataType, reduction });
  });

  it.each([
    ["SRO-kb001ms-20220629-00010442-EX10.jpg", "jpg", null, "EX", "10"],
    ["Sro-KB001MS-20220629-00010442-ex10.jpg", "jpg", null, "ex", "10"],
    ["sro-kb001ms-20220629-00010442-EXTRA10.jpg", "jpg", null, "EXTRA", "10"],
    ["sro-kb001ms-20220629-00010442-EX10.JPG", "jpg", null, "EX", "10"],
    ["sro-kb001ms-20220629-00010442-EX01.FITS.FZ", "fits", "fz", "EX", "01"],
    ["sro-kb001ms-20220629-00010442-EX00.Fits.Bz2", "fits", "bz2", "EX", "00"],
    ["sro-kb001ms-20220629-00010442-EX00.TXT", "txt", null, "EX", "00"],
    ["sro-kb001ms-20220629-00010442-EX10.png", null, null, "EX", "10"],
    ["sro-kb001ms-20220629-00010442-EX10.csv", null, null, "EX", "10"],
    ["sro-kb001ms-20220629-00010442-EX10.JSON", null, null, "EX", "10"],
    ["sro-kb001ms-20220629-00010442-EX10.tar.gz", null, null, "EX", "10"],
    ["sro-kb001ms-20220629-00010442-EX10.jpg.bz2", null, null, "EX", "10"],
    ["sro-kb001ms-20220629-00010442-EX10.fits.zip", null, null, "EX", "10"],
    ["sro-kb001ms-20220629-00010442-EX10.fits.bz3", null, null, "EX", "10"],
  ])("accepts %s, as the replaced service did (extension %s)", (name, extension, compression, dataType, reduction) => {
    // Act
    const file = parseFileName(name);

    // Assess
    expect(file).toMatchObject({ extension, compression, dataType, reduction });
    expect(isKnownFile(file)).toBe(extension !== null);
  });

  it.each(["txt", "jpg", "fits", "fits.bz2", "fits.fz", "fits.gz"])("reads .%s the same in any letter case", (extension) => {
    // Prepare
    const name = (suffix: string) => parseFileName(`sro-kb001ms-20220629-00010442-EX10.${suffix}`);
    const mixed = [...extension].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c)).join("");

    // Act
    const kinds = [extension, extension.toUpperCase(), mixed].map((suffix) => name(suffix));

    // Assess
    expect(kinds.map(({ extension: kind, compression }) => [kind, compression])).toEqual([
      [extension.split(".")[0], extension.split(".")[1] ?? null],
      [extension.split(".")[0], extension.split(".")[1] ?? null],
      [extension.split(".")[0], extension.split(".")[1] ?? null],
    ]);
  });

  it("keeps the case of every part as named, and accepts any instrument of letters, digits and _", () => {
    // Act
    const file = parseFileName("SRO-Kb_001_Wide_Field_Camera-20220629-00010442-Ep10.Jpg");

    // Assess
    expect(file).toEqual({
      fileName: "SRO-Kb_001_Wide_Field_Camera-20220629-00010442-Ep10.Jpg",
      baseFilename: "SRO-Kb_001_Wide_Field_Camera-20220629-00010442",
      site: "SRO",
      instrument: "Kb_001_Wide_Field_Camera",
      date: "20220629",
      counter: "00010442",
      dataType: "Ep",
      reduction: "10",
      extension: "jpg",
      compression: null,
    });
  });

  it.each([
    ["sro-kb001ms-20220230-00010442-EX10.jpg", "date", 'date 20220230 is not a calendar date'],
    ["sro-kb001ms-20230229-00010442-EX10.jpg", "date", "date 20230229 is not a calendar date"],
    ["sro-kb001ms-19001329-00010442-EX10.jpg", "date", "not a calendar date"],
    ["sro-kb001ms-2022069-00010442-EX10.jpg", "date", 'date "2022069" is not YYYYMMDD'],
    ["sr-kb001ms-20220629-00010442-EX10.jpg", "site", 'site "sr" is not 3–6 letters or digits'],
    ["sroabcd-kb001ms-20220629-00010442-EX10.jpg", "site", 'site "sroabcd"'],
    ["sr_o-kb001ms-20220629-00010442-EX10.jpg", "site", 'site "sr_o"'],
    ["sro--20220629-00010442-EX10.jpg", "instrument", 'instrument "" is not letters, digits or _'],
    ["sro-kb+01-20220629-00010442-EX10.jpg", "instrument", 'instrument "kb+01"'],
    ["sro-kb 01-20220629-00010442-EX10.jpg", "instrument", 'instrument "kb 01"'],
    ["sro-kb001ms-20220629-0001044-EX10.jpg", "counter", 'counter "0001044" is not exactly 8 digits'],
    ["sro-kb001ms-20220629-000104420-EX10.jpg", "counter", "counter"],
    ["sro-kb001ms-20220629-00010442-10.jpg", "data_type", 'data type "" is not letters'],
    ["sro-kb001ms-20220629-00010442-EX1.jpg", "reduction", 'reduction "1" is not exactly 2 digits'],
    ["sro-kb001ms-20220629-00010442-EX100.jpg", "reduction", 'reduction "100"'],
    ["sro-kb001ms-20220629-00010442-EX10", "extension", 'extension ""'],
    ["sro-kb001ms-20220629-00010442-EX10.", "extension", 'extension ""'],
    ["sro-kb001ms-20220629-00010442-EX10.jpg.", "extension", 'extension "jpg."'],
    ["sro-kb001ms-20220629-00010442-EX10.7z", "extension", 'extension "7z"'],
    ["sro-kb001ms-20220629-00010442-EX10.jp-g", "extension", 'extension "jp-g"'],
    ["sro-kb001ms-20220629-00010442-EX10.jpg ", "extension", 'extension "jpg "'],
    ["sro-kb001ms-20220629-00010442-EX10.fits_bz2", "extension", 'extension "fits_bz2"'],
    ["sro-kb001ms-20220629-EX10.jpg", "file_name", "expected {site}-{instrument}"],
    ["sro-kb001ms-20220629-00010442-EX10-x.jpg", "file_name", "expected {site}-{instrument}"],
    ["", "file_name", "the file name is empty"],
    ["data/sro-kb001ms-20220629-00010442-EX10.jpg", "file_name", "path separator"],
    ["sro-kb001ms-20220629-00010442-EX10.jpg/x", "file_name", "path separator"],
    ["sro-kb001ms\\x-20220629-00010442-EX10.jpg", "file_name", "path separator"],
    ["..sro-kb001ms-20220629-00010442-EX10.jpg", "file_name", '".."'],
    ["sro-kb001ms-20220629-00010442-EX10.fits..bz2", "file_name", '".."'],
    ["sró-kb001ms-20220629-00010442-EX10.jpg", "file_name", "non-ASCII"],
    ["sro-kb001ms-20220629-00010442-EX10.jpg\u0000.txt", "file_name", "control characters"],
    ["sro-kb001ms-20220629-00010442-EX10.jpg\n", "file_name", "control characters"],
    [`sro-${"k".repeat(120)}-20220629-00010442-EX10.jpg`, "file_name", "over the 128 allowed"],
  ])("rejects %s, naming the %s", (name, field, reason) => {
    // Act
    const error = rejection(() => parseFileName(name));

    // Assess
    expect(error.field).toBe(field);
    expect(error.message).toContain(`invalid file name ${JSON.stringify(name)}: `);
    expect(error.message).toContain(reason);
    expect(error.retryable).toBe(false);
  });

  it("says exactly what is wrong with an impossible date", () => {
    // Act
    const error = rejection(() => parseFileName("sro-kb001ms-20220230-00010442-EX10.jpg"));

    // Assess
    expect(error.message).toBe(
      'invalid file name "sro-kb001ms-20220230-00010442-EX10.jpg": date 20220230 is not a calendar date',
    );
  });
});

describe("parseObjectKey", () => {
  it.each(["data", "info-images", "allsky"] as const)("accepts the %s directory", (directory) => {
    // Act
    const key = parseObjectKey(`${directory}/sro-kb001ms-20220629-00010442-EX10.jpg`);

    // Assess
    expect(key).toMatchObject({
      directory,
      key: `${directory}/sro-kb001ms-20220629-00010442-EX10.jpg`,
      fileName: "sro-kb001ms-20220629-00010442-EX10.jpg",
      baseFilename: "sro-kb001ms-20220629-00010442",
    });
  });

  it.each([
    ["test/sro-kb001ms-20220629-00010442-EX10.jpg", "directory"],
    ["Data/sro-kb001ms-20220629-00010442-EX10.jpg", "directory"],
    ["sro-kb001ms-20220629-00010442-EX10.jpg", "directory"],
    ["/sro-kb001ms-20220629-00010442-EX10.jpg", "directory"],
    ["data/sub/sro-kb001ms-20220629-00010442-EX10.jpg", "file_name"],
    ["data/../sro-kb001ms-20220629-00010442-EX10.jpg", "file_name"],
    ["data/sro-kb001ms-20220629-00010442-EX10.fits.b-z2", "extension"],
    ["data/", "file_name"],
  ])("rejects %s, naming the %s", (key, field) => {
    // Act
    const error = rejection(() => parseObjectKey(key));

    // Assess
    expect(error.field).toBe(field);
    expect(error.message).toContain(`invalid object key ${JSON.stringify(key)}`);
  });
});

describe("uploadObjectKey", () => {
  it.each(["data", "info-images", "allsky", "test"] as const)("stores an upload to %s under that directory", (directory) => {
    // Act
    const key = uploadObjectKey(directory, "SRO-kb001ms-20220629-00010442-EX10.png");

    // Assess
    expect(key).toMatchObject({
      directory,
      key: `${directory}/SRO-kb001ms-20220629-00010442-EX10.png`,
      site: "SRO",
      extension: null,
    });
  });

  it("refuses another directory and names the wrong part of a bad name", () => {
    // Act
    const directory = rejection(() => uploadObjectKey("downloads" as UploadDirectory, "sro-kb001ms-20220629-00010442-EX10.jpg"));
    const name = rejection(() => uploadObjectKey("test", "sro-kb001ms-20220631-00010442-EX10.jpg"));

    // Assess
    expect([directory.field, name.field]).toEqual(["directory", "date"]);
  });
});

describe("assertSiteName", () => {
  it("is the file names' site rule: 3–6 letters or digits, either case", () => {
    // Act
    const accepted = ["sro", "SRO", "Saf001"].map((site) => assertSiteName(site));
    const refused = ["sr", "sroabcd", "sr-o", "sro/", "../", "sró"].map((site) => rejection(() => assertSiteName(site)));

    // Assess
    expect(accepted).toEqual(["sro", "SRO", "Saf001"]);
    expect(refused.map((error) => error.field)).toEqual(["site", "site", "site", "site", "site", "site"]);
  });
});

describe("decodeS3EventKey", () => {
  it("turns + into a space and percent-escapes into characters", () => {
    // Act
    const decoded = decodeS3EventKey("data/a+b%2Bc%3Dd%20e");

    // Assess
    expect(decoded).toBe("data/a b+c=d e");
  });

  it("leaves a plain key unchanged, so it parses", () => {
    // Act
    const key = parseObjectKey(decodeS3EventKey("info-images/sro-kb001ms-20220629-00010442-EX10.jpg"));

    // Assess
    expect(key.directory).toBe("info-images");
  });

  it("rejects a malformed percent sequence as bad input", () => {
    // Act
    const error = rejection(() => decodeS3EventKey("data/bad%E0%A4%A.jpg"));

    // Assess
    expect(error.field).toBe("key");
    expect(error.message).toContain("malformed percent-encoding");
  });
});

describe("fileFlagColumn", () => {
  it.each([
    ["EX10.jpg", "jpg_medium_exists"],
    ["EX13.jpg", "jpg_medium_exists"],
    ["EX11.jpg", "jpg_small_exists"],
    ["EX00.fits.bz2", "fits_01_exists"],
    ["EX01.fits", "fits_01_exists"],
    ["EX10.fits.fz", "fits_10_exists"],
    ["EX13.fits.gz", "fits_10_exists"],
    ["EX10.JPG", "jpg_medium_exists"],
    ["EX11.Jpg", "jpg_small_exists"],
    ["EX01.FITS.FZ", "fits_01_exists"],
    ["EX01.txt", null],
    ["EX12.jpg", null],
    ["EX11.fits", null],
    ["EX10.png", null],
    ["EX10.jpg.bz2", null],
    ["EX01.fits.zip", null],
  ])("maps %s to %s", (suffix, column) => {
    // Act
    const flag = fileFlagColumn(parseFileName(`sro-kb001ms-20220629-00010442-${suffix}`));

    // Assess
    expect(flag).toBe(column);
  });

  it("tells medium jpgs (which get thumbnails) from thumbnails", () => {
    // Prepare
    const name = (suffix: string) => parseFileName(`sro-kb001ms-20220629-00010442-${suffix}`);

    // Act and assess
    expect([isMediumJpg(name("EX10.jpg")), isMediumJpg(name("EX13.jpg")), isMediumJpg(name("EX11.jpg"))]).toEqual([
      true,
      true,
      false,
    ]);
    expect([isThumbnail(name("EX11.jpg")), isThumbnail(name("EX10.jpg")), isThumbnail(name("EX11.fits"))]).toEqual([
      true,
      false,
      false,
    ]);
  });
});

describe("sibling keys", () => {
  const fits = parseObjectKey("data/sro-kb001ms-20220629-00010442-EX01.fits.bz2");

  it("derives the thumbnail of a medium jpg", () => {
    // Act
    const key = thumbnailKey(parseObjectKey("info-images/tst-cam1-20240229-00000001-e13.jpg"));

    // Assess
    expect(key).toBe("info-images/tst-cam1-20240229-00000001-e11.jpg");
  });

  it("derives a lower-case .jpg thumbnail from a medium jpg named in any case", () => {
    // Act
    const key = thumbnailKey(parseObjectKey("data/SRO-KB001MS-20220629-00010442-EX10.JPG"));

    // Assess
    expect(key).toBe("data/SRO-KB001MS-20220629-00010442-EX11.jpg");
    expect(parseObjectKey(key)).toMatchObject({ baseFilename: "SRO-KB001MS-20220629-00010442", extension: "jpg", reduction: "11" });
  });

  it("gives a file of another extension siblings only of an extension the archive reads", () => {
    // Prepare
    const png = parseObjectKey("data/sro-kb001ms-20220629-00010442-EX10.png");

    // Act
    const header = siblingKey(png, { extension: "txt" });
    const error = rejection(() => siblingKey(png, { reduction: "11" }));

    // Assess
    expect(header).toBe("data/sro-kb001ms-20220629-00010442-EX10.txt");
    expect(error.field).toBe("extension");
  });

  it("keeps the compression while the extension stays and drops it when the extension changes", () => {
    // Act
    const smallFits = siblingKey(fits, { reduction: "10" });
    const header = siblingKey(fits, { extension: "txt" });
    const plain = siblingKey(fits, { compression: null });

    // Assess
    expect([smallFits, header, plain]).toEqual([
      "data/sro-kb001ms-20220629-00010442-EX10.fits.bz2",
      "data/sro-kb001ms-20220629-00010442-EX01.txt",
      "data/sro-kb001ms-20220629-00010442-EX01.fits",
    ]);
  });

  it("every derived key parses back to the same exposure", () => {
    // Act
    const parsed = [siblingKey(fits, { extension: "jpg", reduction: "10" }), thumbnailKey(fits)].map(parseObjectKey);

    // Assess
    expect(parsed.map((key) => key.baseFilename)).toEqual([fits.baseFilename, fits.baseFilename]);
  });

  it("refuses a compressed jpg or a malformed reduction", () => {
    // Act
    const compressed = rejection(() => siblingKey(fits, { extension: "jpg", compression: "gz" }));
    const reduction = rejection(() => siblingKey(fits, { reduction: "1" }));

    // Assess
    expect([compressed.field, reduction.field]).toEqual(["extension", "reduction"]);
  });

  it("builds the prefix of one exposure with its trailing dash, and refuses anything shorter", () => {
    // Act
    const prefix = objectKeyPrefix("data", "sro-kb001ms-20220629-00010442");
    const upper = objectKeyPrefix("data", "SRO-KB001MS-20220629-00010442");
    const error = rejection(() => objectKeyPrefix("data", "sro-kb001ms-20220629-0001"));

    // Assess
    expect(prefix).toBe("data/sro-kb001ms-20220629-00010442-");
    expect(upper).toBe("data/SRO-KB001MS-20220629-00010442-");
    expect(error.field).toBe("base_filename");
  });

  it("never matches a neighbour's counter, whatever the extension", () => {
    // Prepare
    const prefix = objectKeyPrefix("data", "sro-kb001ms-20220629-00010442");
    const neighbours = ["sro-kb001ms-20220629-000104420-EX10.jpg", "sro-kb001ms-20220629-00010442x-EX10.png"];

    // Act and assess
    expect(neighbours.filter((name) => `data/${name}`.startsWith(prefix))).toEqual([]);
    expect(`data/sro-kb001ms-20220629-00010442-EX10.png`.startsWith(prefix)).toBe(true);
  });
});

describe("parseBaseFilename", () => {
  it("returns the parts of a base filename and rejects a date that does not exist", () => {
    // Act
    const parts = parseBaseFilename("sro-kb001ms-20220629-00010442");
    const error = rejection(() => parseBaseFilename("sro-kb001ms-20220631-00010442"));

    // Assess
    expect(parts).toEqual({
      baseFilename: "sro-kb001ms-20220629-00010442",
      site: "sro",
      instrument: "kb001ms",
      date: "20220629",
      counter: "00010442",
    });
    expect(error.field).toBe("base_filename");
  });

  it("keeps an upper-case base filename as named and still refuses a path or a short counter", () => {
    // Act
    const parts = parseBaseFilename("SRO-KB001MS-20220629-00010442");
    const refused = ["sro-kb001ms-20220629-0001", "sro-kb/../x-20220629-00010442", "sro-kb001ms-20220629-00010442-EX10"].map(
      (base) => rejection(() => parseBaseFilename(base)),
    );

    // Assess
    expect(parts).toMatchObject({ site: "SRO", instrument: "KB001MS" });
    expect(refused.map((error) => error.field)).toEqual(["base_filename", "base_filename", "base_filename"]);
  });
});
