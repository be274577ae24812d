/**
 * Writes small, valid FITS files: 80-character header cards in 2880-byte blocks, then 16-bit big-endian pixels.
 * The CLI makes its demo exposures with it, so it stays independent of the archive's reader in core.
 */
export type CardValue = string | number | boolean;

export interface HeaderCard {
  keyword: string;
  value: CardValue;
  comment?: string;
}

const CARD_LENGTH = 80;
const BLOCK_LENGTH = 2880;

function formatValue(value: CardValue): string {
  if (typeof value === "boolean") return (value ? "T" : "F").padStart(20);
  if (typeof value === "number") {
    const text = Number.isInteger(value) ? String(value) : value.toPrecision(10).replace(/0+$/, "").replace(/\.$/, ".0");
    return text.padStart(20);
  }
  // A string value is quoted, inner quotes doubled, and at least eight characters wide by the standard.
  return `'${value.replace(/'/g, "''").padEnd(8)}'`.padEnd(20);
}

/** One card exactly 80 characters long; throws when the keyword or value cannot fit. */
export function formatCard(card: HeaderCard): string {
  if (!/^[A-Z0-9_-]{1,8}$/.test(card.keyword)) throw new RangeError(`invalid FITS keyword ${JSON.stringify(card.keyword)}`);
  const text = `${card.keyword.padEnd(8)}= ${formatValue(card.value)}${card.comment ? ` / ${card.comment}` : ""}`;
  if (text.length > CARD_LENGTH) {
    if (text.length - (card.comment?.length ?? 0) - 3 > CARD_LENGTH) throw new RangeError(`card ${card.keyword} is too long`);
    return text.slice(0, CARD_LENGTH);
  }
  return text.padEnd(CARD_LENGTH);
}

/** The header cards followed by END, as the card images a site's `.txt` header upload holds (one per line). */
export function headerText(cards: HeaderCard[]): string {
  return [...cards.map(formatCard), "END".padEnd(CARD_LENGTH)].join("\n") + "\n";
}

function padToBlock(bytes: Buffer, fill: number): Buffer {
  const remainder = bytes.length % BLOCK_LENGTH;
  return remainder === 0 ? bytes : Buffer.concat([bytes, Buffer.alloc(BLOCK_LENGTH - remainder, fill)]);
}

/**
 * A primary HDU holding a 16-bit image. `pixels` are values in 0..65535 (row-major, first row at the bottom as FITS
 * draws it); the mandatory structural cards come first, then `cards`.
 */
export function fitsImage(width: number, height: number, pixels: Uint16Array, cards: HeaderCard[]): Buffer {
  if (pixels.length !== width * height) throw new RangeError(`expected ${width * height} pixels, got ${pixels.length}`);
  const structural: HeaderCard[] = [
    { keyword: "SIMPLE", value: true, comment: "conforms to FITS standard" },
    { keyword: "BITPIX", value: 16, comment: "16-bit integers" },
    { keyword: "NAXIS", value: 2 },
    { keyword: "NAXIS1", value: width },
    { keyword: "NAXIS2", value: height },
    { keyword: "BZERO", value: 32768, comment: "unsigned values stored as signed" },
    { keyword: "BSCALE", value: 1 },
  ];
  const header = padToBlock(
    Buffer.from([...structural, ...cards].map(formatCard).join("") + "END".padEnd(CARD_LENGTH), "latin1"),
    0x20,
  );
  const data = Buffer.alloc(pixels.length * 2);
  pixels.forEach((value, index) => data.writeInt16BE(value - 32768, index * 2));
  return Buffer.concat([header, padToBlock(data, 0)]);
}
