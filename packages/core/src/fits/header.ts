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
/** A header longer than this (about 29,000 cards) is not a FITS header; stop rather than read a whole file. */
export const MAX_HEADER_BLOCKS = 400;
