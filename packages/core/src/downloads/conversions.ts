import { Readable } from "node:stream";
import { bunzip2Chunks, gunzipChunks } from "../fits/compression";
import { readFitsImage, type FitsImage } from "../fits/fitsImage";
import { unpackFz } from "../fits/fitsWriter";
import { decodeTileCompressedImage, readCompressedImageHdu } from "../fits/tileCompression";
import type { Compression } from "../names/fileName";
import { bzip2 } from "../platform/bzip2";
import { makeTiff, type TiffStretch } from "./tiff";

/** The conversions POST /download makes from a stored FITS file, whatever its compression. */

/** A `.fits.fz` as the plain single-HDU FITS a user downloads: the image and the header of the compressed HDU. */
export function plainFitsFromTileCompressed(fz: Buffer): Buffer {
  return unpackFz(fz);
}

async function inflate(file: Buffer, compression: "bz2" | "gz"): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  const source = Readable.from([file]);
  for await (const chunk of compression === "bz2" ? bunzip2Chunks(source) : gunzipChunks(source)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The image of a stored FITS file: tile-compressed, bzip2'd, gzipped or plain. */
export async function imageOfFits(file: Buffer, compression: Compression): Promise<FitsImage> {
  if (compression === "fz") return decodeTileCompressedImage(readCompressedImageHdu(file));
  return readFitsImage(compression === null ? file : await inflate(file, compression));
}

/** A 16-bit TIFF of the image with the stretch asked for, bzip2-compressed (as the replaced API served it). */
export async function tiffOfFits(file: Buffer, compression: Compression, stretch: TiffStretch): Promise<Buffer> {
  return bzip2(await makeTiff(await imageOfFits(file, compression), { stretch }));
}
