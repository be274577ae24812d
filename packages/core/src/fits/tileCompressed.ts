import type { FitsHeader, FitsValue } from "./header";

/*
 * A .fits.fz file keeps its image in a BINTABLE HDU; its header is given as astropy/cfitsio reconstruct it. Like
 * astropy, it does not merge in the empty primary HDU's keywords.
 */

/** The image header astropy/cfitsio reconstruct from a tile-compressed image's BINTABLE header. */
export function imageHeaderFromCompressed(table: FitsHeader): FitsHeader {
  const from = table.cards;
  const cards = Object.create(null) as Record<string, FitsValue>;
  const isPrimary = "ZSIMPLE" in from;
  if (isPrimary) cards.SIMPLE = from.ZSIMPLE ?? true;
  else cards.XTENSION = from.ZTENSION ?? "IMAGE";
  if ("ZBITPIX" in from) cards.BITPIX = from.ZBITPIX ?? null;
  const axes = from.ZNAXIS;
  if (axes !== undefined) cards.NAXIS = axes;
  if (typeof axes === "number") {
    for (let axis = 1; axis <= axes; axis++) cards[`NAXIS${axis}`] = from[`ZNAXIS${axis}`] ?? null;
  }
  if ("ZEXTEND" in from) cards.EXTEND = from.ZEXTEND ?? null;
  if ("ZPCOUNT" in from || !isPrimary) cards.PCOUNT = from.ZPCOUNT ?? 0;
  if ("ZGCOUNT" in from || !isPrimary) cards.GCOUNT = from.ZGCOUNT ?? 1;
  for (const [image, compressed] of RENAMED_AS_IS) {
    if (compressed in from) cards[image] = from[compressed] ?? null;
  }
  for (const [keyword, value] of Object.entries(from)) {
    if (isTableKeyword(keyword, value)) continue;
    if (!(keyword in cards)) cards[keyword] = value;
  }
  return { cards, comments: table.comments, history: table.history, problems: table.problems };
}

const RENAMED_AS_IS: ReadonlyArray<readonly [string, string]> = [
  ["BLOCKED", "ZBLOCKED"],
  ["CHECKSUM", "ZHECKSUM"],
  ["DATASUM", "ZDATASUM"],
];

const TABLE_KEYWORDS = new Set([
  "XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "TFIELDS", "THEAP", "CHECKSUM", "DATASUM",
  "ZIMAGE", "ZCMPTYPE", "ZQUANTIZ", "ZDITHER0", "ZMASKCMP", "ZSIMPLE", "ZTENSION", "ZBITPIX", "ZNAXIS",
  "ZPCOUNT", "ZGCOUNT", "ZEXTEND", "ZBLOCKED", "ZHECKSUM", "ZDATASUM", "ZTHEAP",
]);
const INDEXED_TABLE_KEYWORD =
  /^(?:NAXIS|TTYPE|TFORM|TUNIT|TDIM|TSCAL|TZERO|TNULL|TDISP|TLMIN|TLMAX|TDMIN|TDMAX|ZNAXIS|ZTILE|ZNAME|ZVAL)\d+$/;

export function isTableKeyword(keyword: string, value: FitsValue): boolean {
  if (TABLE_KEYWORDS.has(keyword) || INDEXED_TABLE_KEYWORD.test(keyword)) return true;
  // astropy drops the table's default name, which names the container rather than the image
  return keyword === "EXTNAME" && value === "COMPRESSED_IMAGE";
}
