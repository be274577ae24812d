import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { InvalidInputError } from "@archive/core/platform/errors";
import { parseHeaderText } from "@archive/core/fits/cards";
import { readFitsHeader } from "@archive/core/fits/hdus";
import type { FitsHeader } from "@archive/core/fits/header";
import { headerFromObject, headerToJson } from "@archive/core/fits/headerJson";
import {
  buildFits,
  buildFitsFz,
  buildFitsHeader,
  bzip2,
  card,
  concatBytes,
  countingSource,
  gzip,
  imageCards,
  pseudoRandomBytes,
  type CardSpec,
} from "../support/fits";

const headerFixture = readFileSync(new URL("../fixtures/header_108_cards.txt", import.meta.url));

const exposureCards: CardSpec[] = [
  ["DATE-OBS", "2022-06-29T04:12:33.123", "UTC start"],
  ["EXPTIME", 30.0],
  ["FILTER", "Ha"],
  ["OBJECT", "Barnard 33"],
  "COMMENT written by the test builder",
  "HISTORY bias subtracted",
];

describe("parseHeaderText", () => {
  it("reads an uploaded header with no newlines between its 80-character cards", () => {
    // Act
    const header = parseHeaderText(headerFixture);

    // Assess
    expect(Object.keys(header.cards)).toHaveLength(100);
    expect(header.cards).toMatchObject({
      SIMPLE: true,
      NAXIS1: 9600,
      OBSTYPE: "EXPOSE",
      GAIN: 0.85,
      "DATE-OBS": "2022-06-29T04:12:33.123",
      CRVAL1: 201.165058,
      "MNT-PARK": false,
      USERID: "google-oauth2|102124071738955888216",
      PROPID: "ptr-sro-calibration-and-science-programme/Barnard33/requested-via-photonranch-scheduler",
    });
    expect(header.comments).toHaveLength(2);
    expect(header.history).toEqual([
      "Bias subtracted with masterbias_kb001ms_bin1",
      "Dark subtracted with masterdark_kb001ms_bin1",
      "Flat field applied from masterflat_Ha",
    ]);
    expect(header.problems).toEqual([]);
  });

  it("reads the same header when each card is on its own line, trailing blanks trimmed or not, CRLF or LF", () => {
    // Prepare
    const text = headerFixture.toString("latin1");
    const cards = text.match(/.{80}/g) ?? [];
    const trimmedLf = cards.map((line) => line.trimEnd()).join("\n");
    const paddedCrlf = cards.join("\r\n") + "\r\n";

    // Act
    const fromLf = parseHeaderText(trimmedLf);
    const fromCrlf = parseHeaderText(paddedCrlf);

    // Assess
    const expected = parseHeaderText(text);
    expect(fromLf).toEqual(expected);
    expect(fromCrlf).toEqual(expected);
  });

  it("types every kind of value", () => {
    // Prepare
    const text = buildFitsHeader([
      card("STRING", "it's here"),
      "QUOTES  = 'O''Brien ''x'''  / escaped quotes",
      "PADDED  = '  lead kept, trail dropped    '",
      "EMPTY   = ''",
      "LOGIC   =                    T",
      "FALSE   =                    F / comment",
      "INT     =                  -42",
      "BIGINT  =         123456789012",
      "FLOAT   =              -1.25E2",
      "DEXP    =                1.5D3",
      "DEXP2   =             2.0d-2",
      "FREEFMT = 3.",
      "NOEXP   =          0.000000001",
      "LONGDIG =   3.14159265358979323846",
      "UNDEF   =                      / undefined value",
      "UNDEF2  =",
      "COMPLEX = (1.0, -2.5)",
    ]);

    // Act
    const header = parseHeaderText(text);

    // Assess
    expect(header.cards).toEqual({
      STRING: "it's here",
      QUOTES: "O'Brien 'x'",
      PADDED: "  lead kept, trail dropped",
      EMPTY: "",
      LOGIC: true,
      FALSE: false,
      INT: -42,
      BIGINT: 123456789012,
      FLOAT: -125,
      DEXP: 1500,
      DEXP2: 0.02,
      FREEFMT: 3,
      NOEXP: 1e-9,
      LONGDIG: 3.141592653589793,
      UNDEF: null,
      UNDEF2: null,
      COMPLEX: "(1.0, -2.5)",
    });
    expect(header.problems).toEqual([]);
  });

  it("leaves out a card holding a NUL byte, naming it, and keeps the others", () => {
    // Prepare: NUL is no FITS character, and Postgres text cannot hold it
    const text = buildFitsHeader(["OBJECT  = 'M31\u0000'", "FILTER  = 'ha'", "COMMENT a NUL \u0000 here too", "EXPTIME =                 30.0"]);

    // Act
    const header = parseHeaderText(text);

    // Assess
    expect(header.cards).toEqual({ FILTER: "ha", EXPTIME: 30 });
    expect(header.comments).toEqual([]);
    expect(header.problems).toEqual([
      "card 1 (OBJECT): holds a NUL byte; the card is left out",
      "card 3 (COMMENT): holds a NUL byte; the card is left out",
    ]);
  });

  it("joins CONTINUE long strings", () => {
    // Prepare
    const text = buildFitsHeader([
      "LONGSTR = 'first part, &'      / a long string",
      "CONTINUE  'second part, &'",
      "CONTINUE  'last part'",
      "NEXT    = 'plain & '",
    ]);

    // Act
    const header = parseHeaderText(text);

    // Assess
    expect(header.cards).toEqual({ LONGSTR: "first part, second part, last part", NEXT: "plain &" });
    expect(header.problems).toEqual([]);
  });

  it("names HIERARCH keywords without the prefix, as astropy does", () => {
    // Prepare
    const text = buildFitsHeader([
      "HIERARCH ESO DET NAME = 'ccd-1' / detector",
      "HIERARCH   ESO   TEL AIRM START= 1.25",
    ]);

    // Act
    const header = parseHeaderText(text);

    // Assess
    expect(header.cards).toEqual({ "ESO DET NAME": "ccd-1", "ESO TEL AIRM START": 1.25 });
  });

  it("keeps COMMENT and HISTORY as lists and ignores blank commentary cards", () => {
    // Prepare
    const text = buildFitsHeader([
      "COMMENT   indented comment",
      "        blank keyword commentary",
      "HISTORY step 1",
      "COMMENT",
      "HISTORY step 2",
    ]);

    // Act
    const header = parseHeaderText(text);

    // Assess
    expect(header.comments).toEqual(["  indented comment", ""]);
    expect(header.history).toEqual(["step 1", "step 2"]);
    expect(header.cards).toEqual({});
  });

  it("reports malformed cards with their number and keyword and keeps everything else", () => {
    // Prepare
    const text = buildFitsHeader([
      "GOOD    = 1",
      "NOQUOTE = 'never closed",
      "BADNUM  = 12abc",
      "lower   = 3",
      "NOEQUAL   4",
      "CONTINUE  'orphan'",
      "GOOD    = 2",
      "HUGE    = 1E999",
      "AFTER   = 'still read'",
    ]);

    // Act
    const header = parseHeaderText(text);

    // Assess
    expect(header.cards).toEqual({ GOOD: 1, AFTER: "still read" });
    expect(header.problems).toEqual([
      "card 2 (NOQUOTE): string value has no closing quote",
      'card 3 (BADNUM): unparsable value "12abc"',
      "card 4 (lower): keyword has characters other than A–Z, 0–9, '-' and '_'",
      "card 5 (NOEQUAL): no value indicator '= ' in columns 9–10",
      "card 6 (CONTINUE): no preceding string value ending in '&' to continue",
      "card 7 (GOOD): repeated keyword; the first value is kept",
      "card 8 (HUGE): number 1E999 is out of range",
    ]);
  });

  it("reads more distinct keywords than its keyword table holds and still reports repeats", () => {
    // Prepare
    const keywords = Array.from({ length: 1500 }, (_, i) => `K${i}`);
    const text = buildFitsHeader([
      ...keywords.map((keyword, i): CardSpec => [keyword, i]),
      ["K0", -1],
      ["K1499", -1],
      "HIERARCH K7 = 3",
    ]);

    // Act
    const fromText = parseHeaderText(text);
    const fromBytes = parseHeaderText(Buffer.from(text, "latin1"));

    // Assess
    expect(Object.keys(fromText.cards)).toEqual(keywords);
    expect(fromText.cards.K1499).toBe(1499);
    expect(fromText.problems).toEqual([
      "card 1501 (K0): repeated keyword; the first value is kept",
      "card 1502 (K1499): repeated keyword; the first value is kept",
      "card 1503 (K7): repeated keyword; the first value is kept",
    ]);
    expect(fromBytes).toEqual(fromText);
  });

  it("reads text with characters beyond latin1 as it reads any other character", () => {
    // Prepare
    const text = buildFitsHeader([
      "OBJECT  = 'Ωmega Ж' / naméd Ω",
      "ΩBAD    = 1",
      "NUM     = 1Ω",
      "COMMENT Ω comment",
      ["OK", 1.5],
    ]);

    // Act
    const header = parseHeaderText(text);

    // Assess
    expect(header.cards).toEqual({ OBJECT: "Ωmega Ж", OK: 1.5 });
    expect(header.comments).toEqual(["Ω comment"]);
    expect(header.problems).toEqual([
      "card 2 (ΩBAD): keyword has characters other than A–Z, 0–9, '-' and '_'",
      'card 3 (NUM): unparsable value "1Ω"',
    ]);
  });

  it("stops at END and notes a header that has none", () => {
    // Prepare
    const complete = buildFitsHeader([["A", 1]]) + card("B", 2);
    const truncated = card("A", 1) + card("B", 2);

    // Act
    const read = parseHeaderText(complete);
    const cut = parseHeaderText(truncated);

    // Assess
    expect(read).toEqual({ cards: { A: 1 }, comments: [], history: [], problems: [] });
    expect(cut.cards).toEqual({ A: 1, B: 2 });
    expect(cut.problems).toEqual(["no END card: the header may be truncated"]);
  });
});

describe("headerToJson", () => {
  it("writes keyword → value with COMMENT and HISTORY lists, as the frontend reads it", () => {
    // Prepare
    const header = parseHeaderText(buildFitsHeader(exposureCards));

    // Act
    const json: unknown = JSON.parse(headerToJson(header));

    // Assess
    expect(json).toEqual({
      "DATE-OBS": "2022-06-29T04:12:33.123",
      EXPTIME: 30,
      FILTER: "Ha",
      OBJECT: "Barnard 33",
      COMMENT: ["written by the test builder"],
      HISTORY: ["bias subtracted"],
    });
  });

  it("leaves out empty COMMENT and HISTORY lists", () => {
    // Act
    const json = headerToJson(parseHeaderText(buildFitsHeader([["A", "x"]])));

    // Assess
    expect(json).toBe('{"A":"x"}');
  });

  it("round-trips through headerFromObject", () => {
    // Prepare
    const header = parseHeaderText(headerFixture);

    // Act
    const again = headerFromObject(JSON.parse(headerToJson(header)) as Record<string, unknown>);

    // Assess
    expect(again).toEqual(header);
  });
});

describe("headerFromObject", () => {
  it("keeps FITS values and lists everything else as problems", () => {
    // Act
    const header = headerFromObject({ A: 1, B: "x", C: true, D: null, E: { nested: 1 }, F: [1], COMMENT: "one" });

    // Assess
    expect(header.cards).toEqual({ A: 1, B: "x", C: true, D: null });
    expect(header.comments).toEqual(["one"]);
    expect(header.problems).toEqual([
      "E: an object is not a FITS value (text, number, logical or null)",
      "F: a list is not a FITS value (text, number, logical or null)",
    ]);
  });
});

describe("readFitsHeader", () => {
  const pixels = 3 * 2880;
  const fits = buildFits({ header: imageCards(pixels, exposureCards), dataBytes: pseudoRandomBytes(pixels) });

  function expectExposureHeader(header: FitsHeader, naxis1 = pixels): void {
    expect(header.cards).toMatchObject({ SIMPLE: true, NAXIS1: naxis1, FILTER: "Ha", EXPTIME: 30 });
    expect(header.comments).toEqual(["written by the test builder"]);
    expect(header.problems).toEqual([]);
  }

  it("reads the primary header of a .fits file and stops before the data", async () => {
    // Prepare
    const source = countingSource(fits, 2880);

    // Act
    const header = await readFitsHeader(source, null);

    // Assess
    expectExposureHeader(header);
    expect(source.bytesPulled).toBe(2880);
    expect(source.released).toBe(true);
  });

  it("reads a header that spans several blocks and arrives in odd-sized chunks", async () => {
    // Prepare
    const many: CardSpec[] = Array.from({ length: 80 }, (_, i) => [`KEY${i}`, i] as const);
    const file = buildFits({ header: imageCards(2880, many), dataBytes: pseudoRandomBytes(2880) });

    // Act
    const header = await readFitsHeader(countingSource(file, 1000), null);

    // Assess
    expect(Object.keys(header.cards)).toHaveLength(84);
    expect(header.cards.KEY79).toBe(79);
  });

  it("reads a .fits.bz2 header from the start of the stream, long before the data is pulled", async () => {
    // Prepare: a multi-stream bzip2 file (as pbzip2 writes), header first, then 80 streams of noise
    const noise = bzip2(pseudoRandomBytes(32 * 1024, 3), 1);
    const pixels = 2880 + 80 * 32 * 1024;
    const first = buildFits({ header: imageCards(pixels, exposureCards), dataBytes: pseudoRandomBytes(2880) });
    const file = concatBytes([bzip2(first.subarray(0, 2 * 2880), 1), ...Array.from({ length: 80 }, () => noise)]);
    const source = countingSource(file);

    // Act
    const header = await readFitsHeader(source, "bz2");

    // Assess
    expectExposureHeader(header, pixels);
    expect(file.length).toBeGreaterThan(2_500_000);
    expect(source.bytesPulled).toBeLessThan(file.length / 10);
    expect(source.released).toBe(true);
  });

  it("reads a .fits.gz header and stops pulling the compressed stream", async () => {
    // Prepare
    const big = buildFits({ header: imageCards(4_000_000, exposureCards), dataBytes: pseudoRandomBytes(4_000_000) });
    const file = gzip(big);
    const source = countingSource(file);

    // Act
    const header = await readFitsHeader(source, "gz");

    // Assess
    expectExposureHeader(header, 4_000_000);
    expect(source.bytesPulled).toBeLessThan(file.length / 10);
    expect(source.released).toBe(true);
  });

  it("reads the image header of a .fits.fz file as astropy reconstructs it", async () => {
    // Prepare
    const file = buildFitsFz(
      [
        ["ZSIMPLE", true],
        ["ZBITPIX", 16],
        ["ZNAXIS", 2],
        ["ZNAXIS1", 9600],
        ["ZNAXIS2", 6422],
        ["ZEXTEND", true],
        ["ZHECKSUM", "9aAZB9ZZ9aAZB9ZZ"],
        ["ZDATASUM", "2946593340"],
        ["CHECKSUM", "tableChecksum"],
        ["BZERO", 32768],
        ...exposureCards,
      ],
      { primaryCards: [["ORIGIN", "fpack"]] },
    );

    // Act
    const header = await readFitsHeader(countingSource(file), "fz");

    // Assess
    expect(header.cards).toEqual({
      SIMPLE: true,
      BITPIX: 16,
      NAXIS: 2,
      NAXIS1: 9600,
      NAXIS2: 6422,
      EXTEND: true,
      CHECKSUM: "9aAZB9ZZ9aAZB9ZZ",
      DATASUM: "2946593340",
      BZERO: 32768,
      "DATE-OBS": "2022-06-29T04:12:33.123",
      EXPTIME: 30,
      FILTER: "Ha",
      OBJECT: "Barnard 33",
    });
    expect(header.comments).toEqual(["written by the test builder"]);
    expect(header.problems).toEqual([]);
  });

  it("reconstructs an image extension (ZTENSION) with PCOUNT and GCOUNT", async () => {
    // Prepare
    const file = buildFitsFz([
      ["ZTENSION", "IMAGE"],
      ["ZBITPIX", -32],
      ["ZNAXIS", 1],
      ["ZNAXIS1", 100],
      ["ZPCOUNT", 0],
      ["ZGCOUNT", 1],
      ["EXTNAME", "SCI"],
    ]);

    // Act
    const header = await readFitsHeader(countingSource(file), "fz");

    // Assess
    expect(header.cards).toEqual({
      XTENSION: "IMAGE",
      BITPIX: -32,
      NAXIS: 1,
      NAXIS1: 100,
      PCOUNT: 0,
      GCOUNT: 1,
      EXTNAME: "SCI",
    });
  });

  it("notes a .fz file without a compressed image and returns its primary header", async () => {
    // Act
    const header = await readFitsHeader(countingSource(fits), "fz");

    // Assess
    expect(header.cards.FILTER).toBe("Ha");
    expect(header.problems).toEqual(["no tile-compressed image HDU (ZIMAGE = T) after the primary header"]);
  });

  it("returns what a truncated file holds, with the problem noted", async () => {
    // Act
    const header = await readFitsHeader(countingSource(fits.subarray(0, 400)), null);

    // Assess
    expect(header.cards).toMatchObject({ SIMPLE: true, NAXIS1: pixels });
    expect(header.problems).toEqual(["no END card: the header may be truncated"]);
  });

  it.each([
    ["bz2", "bzip2"],
    ["gz", "gzip"],
  ] as const)("rejects a .%s file that is not %s data as bad input", async (compression, format) => {
    // Act
    const failure = await readFitsHeader(countingSource(fits), compression).catch((error: unknown) => error);

    // Assess
    expect(failure).toBeInstanceOf(InvalidInputError);
    expect((failure as InvalidInputError).message).toContain(`not valid ${format} data`);
  });
});
