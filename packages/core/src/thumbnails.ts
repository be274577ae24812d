import { InvalidInputError } from "./errors";

// sharp's native library costs ~80 ms to load: only functions that make a thumbnail pay it, on their first jpg.
let sharpModule: Promise<typeof import("sharp")> | undefined;
const loadSharp = async () => (await (sharpModule ??= import("sharp"))).default;

/**
 * A thumbnail of a jpg, `height` pixels high with the aspect kept, made in memory. Resizing by height lets libjpeg
 * shrink while decoding (shrink-on-load), so a 3072x2048 jpg is never decoded at full size; the cost is mostly the
 * entropy decoding, which no kernel or encoder setting changes much. A jpg sharp cannot read is bad input.
 */
export async function makeThumbnail(jpg: Buffer, height: number): Promise<Buffer> {
  const sharp = await loadSharp();
  try {
    return await sharp(jpg)
      .resize({ height, kernel: "linear", fastShrinkOnLoad: true })
      .jpeg({ quality: 80, optimiseCoding: false })
      .toBuffer();
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    throw new InvalidInputError(`cannot make a thumbnail: ${error.message}`, "jpg", "corrupt_jpg");
  }
}
