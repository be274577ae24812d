import type { FitsImage } from "../fits/fitsImage";
import { InvalidInputError } from "../platform/errors";

/**
 * The display stretch of a preview: IRAF's zscale (as astropy's ZScaleInterval and DS9 compute it), then a linear map
 * of [z1, z2] to grey levels 0–255. zscale fits a line to a sorted sample of the pixels, rejecting outliers, and takes
 * a range around the median from the slope: it follows the sky's noise, so hot pixels, saturated stars and cosmic
 * rays (which set min and max) cannot squash the sky into black, and it costs a sort of a few thousand samples, not of
 * the frame. asinh would still need a robust black and white point, which is what zscale gives.
 */

export interface ZscaleOptions {
  /** Pixels sampled on a regular stride (astropy: 1000; more is steadier on 60 Mpixel frames and still cheap). */
  samples: number;
  contrast: number;
  maxReject: number;
  minPixels: number;
  /** Outliers are beyond krej standard deviations of the residuals. */
  krej: number;
  maxIterations: number;
}

export const ZSCALE_DEFAULTS: ZscaleOptions = { samples: 10_000, contrast: 0.25, maxReject: 0.5, minPixels: 5, krej: 2.5, maxIterations: 5 };

export interface DisplayRange {
  low: number;
  high: number;
}

/** The first plane's size; an image without pixels is bad input. */
export function planeSize(image: FitsImage): { width: number; height: number } {
  const [width = 0, height = 1] = image.axes;
  if (width < 1 || height < 1) throw new InvalidInputError("the image has no pixels to make a preview of", "fits", "corrupt_fits");
  return { width, height };
}

/** Physical values (stored × BSCALE + BZERO) of defined pixels on a regular stride of the first plane. */
function sample(image: FitsImage, count: number): Float64Array {
  const { width, height } = planeSize(image);
  const length = width * height;
  const stride = Math.max(1, Math.floor(length / count));
  const values = new Float64Array(Math.min(count, Math.ceil(length / stride)));
  let taken = 0;
  for (let i = 0; i < length && taken < values.length; i += stride) {
    const stored = image.pixels[i] ?? 0;
    if (stored === image.blank) continue;
    const value = stored * image.bscale + image.bzero;
    if (Number.isFinite(value)) values[taken++] = value;
  }
  return values.subarray(0, taken).sort();
}

/** zscale's [z1, z2] of an image (astropy's ZScaleInterval.get_limits on the same sample). */
export function zscale(image: FitsImage, options: ZscaleOptions = ZSCALE_DEFAULTS): DisplayRange {
  const samples = sample(image, options.samples);
  const count = samples.length;
  if (count === 0) return { low: 0, high: 0 };
  let low = samples[0] ?? 0;
  let high = samples[count - 1] ?? 0;
  const minPixels = Math.max(options.minPixels, Math.floor(count * options.maxReject));
  const grow = Math.max(1, Math.floor(count * 0.01));
  let bad: Uint8Array = new Uint8Array(count);
  let good = count;
  let lastGood = count + 1;
  let slope = 0;
  for (let iteration = 0; iteration < options.maxIterations && good < lastGood && good >= minPixels; iteration++) {
    const fit = fitLine(samples, bad);
    slope = fit.slope;
    const residuals = new Float64Array(count);
    let sum = 0;
    let sumSquares = 0;
    for (let x = 0; x < count; x++) {
      residuals[x] = (samples[x] ?? 0) - (fit.intercept + fit.slope * x);
      if (bad[x] === 0) {
        sum += residuals[x] ?? 0;
        sumSquares += (residuals[x] ?? 0) ** 2;
      }
    }
    const mean = sum / good;
    const threshold = options.krej * Math.sqrt(Math.max(0, sumSquares / good - mean * mean));
    for (let x = 0; x < count; x++) if (Math.abs(residuals[x] ?? 0) > threshold) bad[x] = 1;
    bad = dilate(bad, grow);
    lastGood = good;
    good = bad.reduce((total, flag) => total + (flag === 0 ? 1 : 0), 0);
  }
  if (good >= minPixels) {
    if (options.contrast > 0) slope /= options.contrast;
    const center = Math.floor((count - 1) / 2);
    const median = count % 2 === 1 ? (samples[center] ?? 0) : ((samples[center] ?? 0) + (samples[center + 1] ?? 0)) / 2;
    low = Math.max(low, median - (center - 1) * slope);
    high = Math.min(high, median + (count - center) * slope);
  }
  return { low, high };
}

/** Least squares line through the samples not flagged bad, x being the index. */
function fitLine(values: Float64Array, bad: Uint8Array): { slope: number; intercept: number } {
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (let x = 0; x < values.length; x++) {
    if (bad[x] !== 0) continue;
    const y = values[x] ?? 0;
    n += 1;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const denominator = n * sxx - sx * sx;
  const slope = denominator === 0 ? 0 : (n * sxy - sx * sy) / denominator;
  return { slope, intercept: n === 0 ? 0 : (sy - slope * sx) / n };
}

/** Flags grown by a window of `width` (numpy's convolve(…, ones(width), "same") of the flags). */
function dilate(flags: Uint8Array, width: number): Uint8Array {
  if (width <= 1) return flags;
  const out = new Uint8Array(flags.length);
  const before = Math.floor((width - 1) / 2);
  const after = width - 1 - before;
  for (let i = 0; i < flags.length; i++) {
    if (flags[i] === 0) continue;
    out.fill(1, Math.max(0, i - after), Math.min(flags.length, i + before + 1));
  }
  return out;
}

/**
 * The first plane as 8-bit grey, top row first (FITS row 1 last, as viewers show it), `range` mapped linearly to
 * 0–255 and clipped; undefined pixels (BLANK, NaN) are black. 8- and 16-bit images go through a table of their 2^16
 * stored values, so the frame is read once.
 */
export function stretchToGrey(image: FitsImage, range: DisplayRange): Uint8Array {
  const { width, height } = planeSize(image);
  const plane = image.pixels.subarray(0, width * height);
  const out = new Uint8Array(width * height);
  const span = range.high - range.low;
  const scale = span > 0 ? 255 / span : 0;
  const level = (stored: number): number => {
    if (stored === image.blank) return 0;
    const value = stored * image.bscale + image.bzero;
    if (Number.isNaN(value)) return 0;
    if (span <= 0) return value >= range.high ? 255 : 0;
    const grey = Math.round((value - range.low) * scale);
    return grey < 0 ? 0 : grey > 255 ? 255 : grey;
  };
  if (plane instanceof Uint8Array || plane instanceof Int16Array) {
    const signed = plane instanceof Int16Array;
    const table = new Uint8Array(65536);
    for (let index = 0; index < (signed ? 65536 : 256); index++) table[index] = level(signed ? (index << 16) >> 16 : index);
    for (let row = 0; row < height; row++) {
      const from = row * width;
      const to = (height - 1 - row) * width;
      for (let x = 0; x < width; x++) out[to + x] = table[(plane[from + x] ?? 0) & 0xffff] ?? 0;
    }
    return out;
  }
  for (let row = 0; row < height; row++) {
    const from = row * width;
    const to = (height - 1 - row) * width;
    for (let x = 0; x < width; x++) out[to + x] = level(plane[from + x] ?? 0);
  }
  return out;
}
