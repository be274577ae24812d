// sharp's native library costs ~80 ms to load: only functions that make images pay it, on their first image.
let sharpModule: Promise<typeof import("sharp")> | undefined;

/** sharp, loaded on first use (in Lambda from the sharp layer). */
export const loadSharp = async () => (await (sharpModule ??= import("sharp"))).default;
