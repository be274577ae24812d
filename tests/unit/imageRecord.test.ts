import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseHeaderText } from "@archive/core/fits/cards";
import type { FitsHeader, FitsValue } from "@archive/core/fits/header";
import { imageFieldsFromHeader, imageFieldsFromJson, parseUtc, sexagesimal } from "@archive/core/exposures/imageRecord";
import { buildFitsHeader } from "../support/fits";

function headerOf(cards: Record<string, FitsValue>): FitsHeader {
  return { cards, comments: [], history: [], problems: [] };
}

describe("imageFieldsFromHeader", () => {
  it("maps an uploaded PTR header to the images columns", () => {
    // Prepare
    const header = parseHeaderText(readFileSync(new URL("../fixtures/header_108_cards.txt", import.meta.url)));

    // Act
    const fields = imageFieldsFromHeader(header);

    // Assess
    expect(fields).toMatchObject({
      altitude: 25,
      azimuth: 83.779,
      filter_used: "Ha",
      airmass: 2.3662,
      exposure_time: 30,
      user_id: "google-oauth2|102124071738955888216",
      username: "Michael Fitzgerald",
      capture_date: new Date("2022-06-29T04:12:33.123Z"),
      sort_date: new Date("2022-06-29T04:12:33.123Z"),
    });
    expect(fields.right_ascension).toBe(201.165058);
    expect(fields.declination).toBe(38.526307);
    expect(JSON.parse(fields.header)).toMatchObject({ OBJECT: "Barnard 33", EXPTIME: "30.0", SMARTSTK: "no" });
    expect(JSON.parse(fields.header_json ?? "null")).toMatchObject({ OBJECT: "Barnard 33", EXPTIME: 30, HISTORY: expect.any(Array) });
  });

  it("keeps a header without coordinates, dates or user as a record of nulls", () => {
    // Act
    const fields = imageFieldsFromHeader(headerOf({ OBJECT: "flat" }));

    // Assess
    expect(fields).toEqual({
      right_ascension: null,
      declination: null,
      altitude: null,
      azimuth: null,
      filter_used: null,
      airmass: null,
      exposure_time: null,
      user_id: null,
      username: null,
      capture_date: null,
      sort_date: null,
      header: '{"OBJECT": "flat", "END": ""}',
      header_json: '{"OBJECT":"flat"}',
    });
  });

  it.each<[string, Record<string, FitsValue>, number | null]>([
    ["CRVAL1 as it is", { CRVAL1: 150, RA: 1, OBJCTRA: "02 00 00" }, 150],
    ["CRVAL1 of an RA axis", { CRVAL1: 201.165058, CTYPE1: "RA---TAN", RAHRS: 1 }, 201.165058],
    ["RAHRS × 15 when CRVAL1 is missing", { RAHRS: 5.5, RA: 1 }, 82.5],
    ["RA as hours × 15", { RA: 13.411004 }, 201.16506],
    ["RA above 24 as degrees already", { RA: 180 }, 180],
    ["RA as a sexagesimal string of hours", { RA: "12:30:00" }, 187.5],
    ["OBJCTRA with spaces", { OBJCTRA: "05 35 17.3" }, (5 + 35 / 60 + 17.3 / 3600) * 15],
    ["OBJCTRA with colons", { OBJCTRA: "23:59:60.0" }, null],
    ["CRVAL1 of a galactic axis, falling back to OBJCTRA", { CRVAL1: 120, CTYPE1: "GLON-CAR", OBJCTRA: "01:00:00" }, 15],
    ["an unparsable OBJCTRA", { OBJCTRA: "soon" }, null],
    ["an out-of-range RA", { RA: 400 }, null],
    ["an out-of-range CRVAL1 (no fallback, as CRVAL1 is there)", { CRVAL1: -3, RAHRS: 2 }, null],
  ])("right ascension in degrees from %s", (_, cards, degrees) => {
    // Act
    const { right_ascension } = imageFieldsFromHeader(headerOf(cards));

    // Assess
    if (degrees === null) expect(right_ascension).toBeNull();
    else expect(right_ascension).toBeCloseTo(degrees, 9);
  });

  it.each<[string, Record<string, FitsValue>, number | null]>([
    ["CRVAL2", { CRVAL2: -12.5, DEC: 3, OBJCTDEC: "+01 00 00" }, -12.5],
    ["DEC when CRVAL2 is missing", { DEC: 38.5, OBJCTDEC: "+01 00 00" }, 38.5],
    ["DEC as a sexagesimal string", { DEC: "-05:30:00" }, -5.5],
    ["OBJCTDEC with a sign on zero degrees", { OBJCTDEC: "-00 30 00" }, -0.5],
    ["OBJCTDEC with a plus sign", { OBJCTDEC: "+41 16 07.5" }, 41 + 16 / 60 + 7.5 / 3600],
    ["an out-of-range DEC", { DEC: 95 }, null],
    ["nothing", {}, null],
  ])("declination from %s", (_, cards, degrees) => {
    // Act
    const { declination } = imageFieldsFromHeader(headerOf(cards));

    // Assess
    if (degrees === null) expect(declination).toBeNull();
    else expect(declination).toBeCloseTo(degrees, 9);
  });

  it("takes EXPOSURE when EXPTIME is missing and reads numbers given as text", () => {
    // Act
    const fields = imageFieldsFromHeader(headerOf({ EXPOSURE: 12.5, AIRMASS: "1.5", ALTITUDE: "high", FILTER: "  " }));

    // Assess
    expect(fields).toMatchObject({ exposure_time: 12.5, airmass: 1.5, altitude: null, filter_used: null });
  });

  it.each<[string, Record<string, FitsValue>, string | null]>([
    ["a time without Z", { "DATE-OBS": "2022-06-29T04:12:33.123" }, "2022-06-29T04:12:33.123Z"],
    ["a time with Z", { "DATE-OBS": "2022-06-29T04:12:33Z" }, "2022-06-29T04:12:33.000Z"],
    ["microseconds", { "DATE-OBS": "2022-06-29T04:12:33.123456" }, "2022-06-29T04:12:33.123Z"],
    ["a date only", { "DATE-OBS": "2022-06-29" }, "2022-06-29T00:00:00.000Z"],
    ["a date with TIME-OBS", { "DATE-OBS": "2022-06-29", "TIME-OBS": "21:00:01.5" }, "2022-06-29T21:00:01.500Z"],
    ["an impossible date", { "DATE-OBS": "2022-02-30T00:00:00" }, null],
    ["free text", { "DATE-OBS": "last night" }, null],
    ["a number", { "DATE-OBS": 59759.17 }, null],
  ])("capture and sort dates from DATE-OBS with %s", (_, cards, iso) => {
    // Act
    const { capture_date, sort_date } = imageFieldsFromHeader(headerOf(cards));

    // Assess
    expect(capture_date?.toISOString() ?? null).toBe(iso);
    expect(sort_date?.toISOString() ?? null).toBe(iso);
  });
});

describe("imageFieldsFromJson", () => {
  it("gives the same fields for a header sent as JSON as for the same header parsed from text", () => {
    // Prepare
    const text = buildFitsHeader([
      ["DATE-OBS", "2023-01-02T03:04:05.600"],
      ["CRVAL1", 30.0],
      ["CRVAL2", -20.0],
      ["FILTER", "r"],
      ["EXPTIME", 60],
      ["USERID", "auth0|1"],
      "COMMENT from json",
    ]);
    const json = {
      "DATE-OBS": "2023-01-02T03:04:05.600",
      CRVAL1: 30,
      CRVAL2: -20,
      FILTER: "r",
      EXPTIME: 60,
      USERID: "auth0|1",
      COMMENT: ["from json"],
    };

    // Act
    const fromJson = imageFieldsFromJson(json);
    const fromText = imageFieldsFromHeader(parseHeaderText(text));

    // Assess
    expect(fromJson).toEqual(fromText);
    expect(fromJson.right_ascension).toBe(30);
  });
});

describe("the header column, as the replaced service wrote it", () => {
  const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));

  // The .ptr_data.json files are the output of the replaced service's own scan_header_file (LCOGT/ptr_data,
  // lambda_service/helpers.py at a267d1f) run on the .txt next to them: the text its rows hold.
  it.each(["header_108_cards", "header_edge_cards"])("%s.txt gives the replaced service's text byte for byte", (name) => {
    // Prepare
    const header = parseHeaderText(fixture(`${name}.txt`));

    // Act
    const fields = imageFieldsFromHeader(header);

    // Assess
    expect(fields.header).toBe(fixture(`${name}.ptr_data.json`).toString("utf8"));
  });

  it("keeps numbers as written, logicals as T/F and the last of a repeated keyword, all as strings", () => {
    // Act
    const written = JSON.parse(imageFieldsFromHeader(parseHeaderText(fixture("header_edge_cards.txt"))).header) as unknown;

    // Assess
    expect(written).toMatchObject({
      EXPTIME: "30.000",
      GAIN: "1.50E+00",
      OFFSET: "-5.0D-01",
      PADDED: "0030",
      COOLED: "F",
      UNDEF: "",
      REPEAT: "2",
      SMARTSTK: "1656",
      SSTKNUM: "3",
      "DAY-OBS": "20230309",
      END: "",
    });
    expect(Object.values(written as Record<string, unknown>).every((value) => typeof value === "string")).toBe(true);
  });

  it("reads the same values from cards on their own lines, trailing blanks trimmed, as from 80-column cards", () => {
    // Prepare
    const text = fixture("header_edge_cards.txt").toString("latin1");
    // a blank card keeps one blank: an empty line is no card at all
    const lines = (text.match(/.{80}/g) ?? []).map((card) => card.trimEnd() || " ").join("\r\n");

    // Act
    const fromLines = imageFieldsFromHeader(parseHeaderText(lines)).header;

    // Assess
    expect(fromLines).toBe(fixture("header_edge_cards.ptr_data.json").toString("utf8"));
  });

  it("writes a header sent as JSON as its cards would read: JSON number text, T/F, '' for null, and END", () => {
    // Act
    const fields = imageFieldsFromJson({
      SSTKNUM: 3,
      EXPTIME: 30.5,
      SMARTSTK: "1656 ",
      COOLED: false,
      UNDEF: null,
      OBSERVER: "Zoë",
      HISTORY: ["first", "Bias subtracted"],
    });

    // Assess
    expect(fields.header).toBe(
      '{"SSTKNUM": "3", "EXPTIME": "30.5", "SMARTSTK": "1656", "COOLED": "F", "UNDEF": "", ' +
        '"OBSERVER": "Zo\\u00eb", "HISTORY": "as subtracted", "END": ""}',
    );
    expect(JSON.parse(fields.header_json ?? "null")).toEqual({
      SSTKNUM: 3,
      EXPTIME: 30.5,
      SMARTSTK: "1656 ",
      COOLED: false,
      UNDEF: null,
      OBSERVER: "Zoë",
      HISTORY: ["first", "Bias subtracted"],
    });
  });
});

describe("coordinate and time parsing", () => {
  it.each<[string, number | null]>([
    ["12 30 00", 12.5],
    ["12:30", 12.5],
    ["-10:15:00", -10.25],
    ["+0 0 36", 0.01],
    ["7.25", 7.25],
    ["12 61 00", null],
    ["1 2 3 4", null],
    ["", null],
    ["ab:cd", null],
  ])("sexagesimal %j is %s", (text, value) => {
    // Act
    const parsed = sexagesimal(text);

    // Assess
    if (value === null) expect(parsed).toBeNull();
    else expect(parsed).toBeCloseTo(value, 12);
  });

  it("reads a UTC offset and rejects an hour of 24", () => {
    // Act
    const offset = parseUtc("2022-06-29T04:00:00+02:00");
    const badHour = parseUtc("2022-06-29T24:00:00");

    // Assess
    expect(offset?.toISOString()).toBe("2022-06-29T02:00:00.000Z");
    expect(badHour).toBeNull();
  });
});
