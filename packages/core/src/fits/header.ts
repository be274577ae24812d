/**
 * A FITS header: 80-character cards in 2880-byte blocks, from an uploaded .txt header or the start of a
 * .fits / .fits.bz2 / .fits.gz / .fits.fz file (cards.ts parses them, hdus.ts reads them from a file).
 */

export type FitsValue = string | number | boolean | null;

export interface FitsHeader {
  /** keyword → typed value (HIERARCH keywords without the prefix, CONTINUE strings joined); null = undefined value */
  cards: Record<string, FitsValue>;
  comments: string[];
  history: string[];
  /** malformed cards, each naming the card number and keyword */
  problems: string[];
}

export const CARD_LENGTH = 80;
export const BLOCK_LENGTH = 2880;
/**
 * Limits on reading one header, whatever the object holds (README "Limits"). A FITS header longer than 400 blocks
 * (14,400 cards; real ones have a few hundred) is refused rather than read on through the file.
 */
export const MAX_HEADER_BLOCKS = 400;
export const MAX_HEADER_CARDS = MAX_HEADER_BLOCKS * (BLOCK_LENGTH / CARD_LENGTH);
/**
 * At most this many bytes are decompressed from a .fits.bz2 / .fits.gz to find its header: its 400 blocks and
 * room to spare. A bzip2 block of blanks decodes to 45 MB, so without it memory followed what the file claims.
 */
export const MAX_HEADER_DECOMPRESSED_BYTES = 4 * 1024 * 1024;
