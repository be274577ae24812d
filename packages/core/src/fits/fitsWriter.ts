import { parseHeaderText } from "./cards";
import { bytesPerPixel, pixelArray, pixelCount, swapPixelBytes, type FitsImage, type ImagePixels } from "./fitsImage";
import { BLOCK_LENGTH, CARD_LENGTH } from "./header";
import { decodeTileCompressedImage, readCompressedImageHdu } from "./tileCompression";

/*
 * Plain FITS files of one HDU: the header's cards, END, blanks to a 2880-byte block, then the pixels big-endian,
 * zeros to a block. The header is what astropy's PrimaryHDU(data, header) would write, except that BSCALE, BZERO and
 * BLANK keep the stored integers (lossless, and the size of the original): 16-bit unsigned data stay BITPIX 16 with
 * BZERO 32768, where astropy would do the same, and a scaled integer image is not turned into floats.
 */

type ImageShape = Pick<FitsImage, "bitpix" | "axes" | "bscale" | "bzero" | "blank">;

/** A plain FITS file of `image` with the header `cards` (card images; structural ones are replaced). */
export function writeFitsImage(cards: readonly string[], image: FitsImage): Buffer {
  const { file, data, pixels } = allocateFits(primaryHeaderCards(cards, image), image);
  pixels.set(image.pixels);
  swapPixelBytes(data, bytesPerPixel(image.bitpix));
  return file;
}

/**
 * A .fits.fz as the plain FITS a user downloads: the first tile-compressed image and its header as one primary HDU.
 * Tiles are decoded straight into the output file, which is then turned big-endian in place: no second copy.
 */
export function unpackFz(fz: Uint8Array): Buffer {
  const hdu = readCompressedImageHdu(fz);
  const image: ImageShape = { bitpix: hdu.bitpix, axes: hdu.axes, ...hdu.scaling };
  const { file, data, pixels } = allocateFits(primaryHeaderCards(hdu.imageCards, image), image);
  decodeTileCompressedImage(hdu, pixels);
  swapPixelBytes(data, bytesPerPixel(hdu.bitpix));
  return file;
}

/** Bytes for the header and the padded data; the pixels are a native-order view of the data part. */
function allocateFits(header: readonly string[], image: ImageShape): { file: Buffer; data: Uint8Array; pixels: ImagePixels } {
  const text = header.map((card) => card.padEnd(CARD_LENGTH).slice(0, CARD_LENGTH)).join("") + "END".padEnd(CARD_LENGTH);
  const headerLength = padded(text.length);
  const count = pixelCount(image.axes);
  const dataLength = count * bytesPerPixel(image.bitpix);
  // not from Buffer's pool, so the data start (a multiple of 2880) is aligned for the pixel view
  const file = Buffer.allocUnsafeSlow(headerLength + padded(dataLength));
  file.write(text, 0, "latin1");
  file.fill(" ", text.length, headerLength, "latin1");
  file.fill(0, headerLength + dataLength);
  const data = file.subarray(headerLength, headerLength + dataLength);
  return { file, data, pixels: pixelArray(image.bitpix, count, data) };
}

const padded = (length: number) => Math.ceil(length / BLOCK_LENGTH) * BLOCK_LENGTH;

const STRUCTURAL = /^(?:SIMPLE|XTENSION|BITPIX|NAXIS\d*|EXTEND|PCOUNT|GCOUNT|GROUPS|END|CHECKSUM|DATASUM)$/;
const SCALING = new Set(["BSCALE", "BZERO", "BLANK"]);

/**
 * The cards of a primary HDU holding `image`: SIMPLE, BITPIX, NAXIS, NAXISn as astropy writes them, then `cards` in
 * their order without structural cards (and CHECKSUM/DATASUM, which would be stale); BSCALE, BZERO and BLANK say the
 * image's values, where they stood (new ones after NAXISn). Floats carry no BLANK.
 */
export function primaryHeaderCards(cards: readonly string[], image: ImageShape): string[] {
  const scaling = new Map<string, number>();
  if (image.bscale !== 1) scaling.set("BSCALE", image.bscale);
  if (image.bzero !== 0) scaling.set("BZERO", image.bzero);
  if (image.blank !== null && image.bitpix > 0) scaling.set("BLANK", image.blank);
  const written = new Set<string>();
  const body: string[] = [];
  for (const card of cards) {
    const keyword = card.slice(0, 8).trimEnd();
    if (STRUCTURAL.test(keyword)) continue;
    if (!SCALING.has(keyword)) {
      body.push(card);
      continue;
    }
    if (written.has(keyword)) continue;
    written.add(keyword);
    // BSCALE = 1 and BZERO = 0 stay if they were there; a BLANK only where the image has one
    const value = keyword === "BSCALE" ? image.bscale : keyword === "BZERO" ? image.bzero : scaling.get("BLANK");
    if (value === undefined) continue;
    body.push(cardValue(card) === value ? card : numberCard(keyword, value));
  }
  const added = [...scaling].filter(([keyword]) => !written.has(keyword));
  return [
    numberCard("SIMPLE", true, "conforms to FITS standard"),
    numberCard("BITPIX", image.bitpix, "array data type"),
    numberCard("NAXIS", image.axes.length, "number of array dimensions"),
    ...image.axes.map((size, axis) => numberCard(`NAXIS${axis + 1}`, size)),
    ...added.map(([keyword, value]) => numberCard(keyword, value)),
    ...body,
  ];
}

function cardValue(card: string): unknown {
  return parseHeaderText(card.padEnd(CARD_LENGTH) + "END").cards[card.slice(0, 8).trimEnd()];
}

/** A fixed-format card: the value right-justified in columns 11–30. */
function numberCard(keyword: string, value: number | boolean, comment?: string): string {
  const text = typeof value === "boolean" ? (value ? "T" : "F") : formatNumber(value);
  const card = `${keyword.padEnd(8)}= ${text.padStart(20)}${comment === undefined ? "" : ` / ${comment}`}`;
  return card.padEnd(CARD_LENGTH).slice(0, CARD_LENGTH);
}

function formatNumber(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 1e16) return String(value);
  return String(value).toUpperCase();
}
