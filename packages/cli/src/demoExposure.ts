import sharp from "sharp";
import { bzip2 } from "@archive/core/platform/bzip2";
import { fitsImage, headerText, type HeaderCard } from "./fitsFile";

/**
 * Realistic-looking exposures for `archive demo`: the files a site uploads for one exposure (header text, small fits
 * compressed with bzip2, medium jpg), with a header that carries every field the archive indexes.
 */
export interface DemoFile {
  name: string;
  bytes: Buffer;
}

export interface DemoExposure {
  baseFilename: string;
  files: DemoFile[];
}

export interface DemoExposureOptions {
  site: string;
  instrument?: string;
  /** The 8-digit exposure counter; unique per base filename. */
  counter: number;
  captureTime: Date;
  /** Chooses target, filter and star field; the same seed gives the same pictures. */
  seed: number;
  /** Medium jpg width; its height is two thirds of it. */
  jpgWidth?: number;
}

interface Target {
  name: string;
  raHours: number;
  decDegrees: number;
}

const TARGETS: readonly Target[] = [
  { name: "M31", raHours: 0.7123, decDegrees: 41.2692 },
  { name: "M42", raHours: 5.5881, decDegrees: -5.3911 },
  { name: "M51", raHours: 13.4983, decDegrees: 47.1952 },
  { name: "M13", raHours: 16.6949, decDegrees: 36.4613 },
  { name: "M57", raHours: 18.8931, decDegrees: 33.0292 },
  { name: "M101", raHours: 14.0535, decDegrees: 54.3488 },
  { name: "NGC 7000", raHours: 20.9800, decDegrees: 44.3300 },
];
const FILTERS = ["Lum", "Red", "Green", "Blue", "Ha", "OIII", "SII"] as const;
const EXPOSURES = [10, 30, 60, 120, 180, 300] as const;
type Filter = (typeof FILTERS)[number];
/** Colour balance of the medium jpg per filter, so a page of thumbnails looks like a night of different filters. */
const TINTS: Readonly<Record<Filter, readonly [number, number, number]>> = {
  Lum: [0.9, 0.94, 1.08],
  Red: [1.15, 0.8, 0.78],
  Green: [0.82, 1.1, 0.85],
  Blue: [0.78, 0.88, 1.2],
  Ha: [1.2, 0.7, 0.75],
  OIII: [0.7, 1.05, 1.1],
  SII: [1.15, 0.9, 0.7],
};
const USERS = [
  { id: "google-oauth2|100354044221813550027", name: "Ada Observer" },
  { id: "auth0|5f3a8e2b9c1d4e0071a2b3c4", name: "Tycho Brahe" },
];

/** mulberry32: a tiny seeded generator, so a demo exposure is reproducible from its seed. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(items: readonly T[], random: () => number): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new RangeError("cannot pick from an empty list");
  return item;
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

interface Star {
  x: number;
  y: number;
  flux: number;
  sigma: number;
}

interface Nebula {
  x: number;
  y: number;
  spread: number;
  brightness: number;
}

function nebulaOf(random: () => number): Nebula {
  return { x: 0.25 + random() * 0.5, y: 0.15 + random() * 0.35, spread: 0.01 + random() * 0.03, brightness: 0.12 + random() * 0.15 };
}

function starField(random: () => number, count: number): Star[] {
  return Array.from({ length: count }, () => ({
    x: random(),
    y: random(),
    // Few bright stars, many faint ones, as in a real field.
    flux: Math.pow(random(), 3) * 1.2 + 0.08,
    sigma: 0.0015 + random() * 0.0015,
  }));
}

/** Sky brightness in 0..1 at each pixel: a gradient towards the horizon, a faint nebula, noise and stars. */
function renderSky(width: number, height: number, stars: Star[], nebula: Nebula, random: () => number): Float32Array {
  const sky = new Float32Array(width * height);
  const scale = Math.max(width, height);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const gradient = 0.05 + 0.1 * (y / height) + 0.03 * (x / width);
      const dx = x / scale - nebula.x;
      const dy = y / scale - nebula.y;
      const glow = nebula.brightness * Math.exp(-(dx * dx + dy * dy) / nebula.spread);
      sky[y * width + x] = gradient + glow + 0.015 * gaussian(random);
    }
  }
  for (const star of stars) {
    const cx = star.x * width;
    const cy = star.y * height;
    const sigma = Math.max(0.7, star.sigma * scale);
    const reach = Math.ceil(sigma * 4);
    for (let y = Math.max(0, Math.floor(cy - reach)); y < Math.min(height, cy + reach); y += 1) {
      for (let x = Math.max(0, Math.floor(cx - reach)); x < Math.min(width, cx + reach); x += 1) {
        const r2 = (x - cx) ** 2 + (y - cy) ** 2;
        sky[y * width + x] = (sky[y * width + x] ?? 0) + star.flux * Math.exp(-r2 / (2 * sigma * sigma));
      }
    }
  }
  return sky;
}

function clamp01(value: number): number {
  return value < 0 ? 0 : value > 1 ? 1 : value;
}

async function mediumJpg(
  width: number,
  height: number,
  stars: Star[],
  nebula: Nebula,
  tint: readonly [number, number, number],
  random: () => number,
): Promise<Buffer> {
  const sky = renderSky(width, height, stars, nebula, random);
  const rgb = Buffer.alloc(width * height * 3);
  sky.forEach((value, index) => {
    const v = clamp01(value);
    rgb[index * 3] = Math.round(255 * clamp01(v * tint[0]));
    rgb[index * 3 + 1] = Math.round(255 * clamp01(v * tint[1]));
    rgb[index * 3 + 2] = Math.round(255 * clamp01(v * tint[2] + 0.02));
  });
  return sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}

function smallFits(width: number, height: number, stars: Star[], nebula: Nebula, random: () => number, cards: HeaderCard[]): Buffer {
  const sky = renderSky(width, height, stars, nebula, random);
  const pixels = new Uint16Array(width * height);
  // FITS rows run bottom-up, so flip to keep the picture the same way up as the jpg.
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      pixels[(height - 1 - y) * width + x] = Math.round(1000 + 60000 * clamp01(sky[y * width + x] ?? 0));
    }
  }
  return fitsImage(width, height, pixels, cards);
}

function utcDate(time: Date): string {
  return time.toISOString().slice(0, 10).replace(/-/g, "");
}

/** Builds one exposure's files; nothing touches the disk or the network. */
export async function demoExposure(options: DemoExposureOptions): Promise<DemoExposure> {
  const random = randomSource(options.seed);
  const instrument = options.instrument ?? "demo01";
  const counter = String(options.counter % 1e8).padStart(8, "0");
  const baseFilename = `${options.site}-${instrument}-${utcDate(options.captureTime)}-${counter}`;
  const target = pick(TARGETS, random);
  const filter = pick(FILTERS, random);
  const exposureTime = pick(EXPOSURES, random);
  const user = pick(USERS, random);
  const altitude = 30 + random() * 55;
  const azimuth = random() * 360;
  const airmass = 1 / Math.sin((altitude * Math.PI) / 180);
  const jitterRa = (random() - 0.5) * 0.01;
  const jitterDec = (random() - 0.5) * 0.1;

  const cards: HeaderCard[] = [
    { keyword: "DATE-OBS", value: options.captureTime.toISOString().slice(0, 23), comment: "UTC start of exposure" },
    { keyword: "DATE", value: new Date(options.captureTime.getTime() + exposureTime * 1000).toISOString().slice(0, 19) },
    { keyword: "MJD-OBS", value: options.captureTime.getTime() / 86_400_000 + 40587, comment: "modified Julian date" },
    { keyword: "EXPTIME", value: exposureTime, comment: "[s] exposure length" },
    { keyword: "FILTER", value: filter, comment: "filter used" },
    { keyword: "OBJECT", value: target.name },
    { keyword: "IMAGETYP", value: "Light Frame" },
    { keyword: "RA", value: target.raHours + jitterRa, comment: "[hrs] telescope right ascension" },
    { keyword: "DEC", value: target.decDegrees + jitterDec, comment: "[deg] telescope declination" },
    { keyword: "CRVAL1", value: (target.raHours + jitterRa) * 15, comment: "[deg] RA at reference pixel" },
    { keyword: "CRVAL2", value: target.decDegrees + jitterDec, comment: "[deg] Dec at reference pixel" },
    { keyword: "ALTITUDE", value: Number(altitude.toFixed(4)), comment: "[deg] altitude" },
    { keyword: "AZIMUTH", value: Number(azimuth.toFixed(4)), comment: "[deg] azimuth" },
    { keyword: "AIRMASS", value: Number(airmass.toFixed(4)), comment: "effective airmass" },
    { keyword: "SITE", value: options.site },
    { keyword: "TELESCOP", value: "demo 0.6m" },
    { keyword: "INSTRUME", value: instrument },
    { keyword: "CCD-TEMP", value: -20, comment: "[C] sensor temperature" },
    { keyword: "GAIN", value: 1.2, comment: "[e-/ADU]" },
    { keyword: "USERID", value: user.id },
    { keyword: "USERNAME", value: user.name },
  ];

  const stars = starField(random, 180);
  const nebula = nebulaOf(random);
  const jpgWidth = options.jpgWidth ?? 768;
  const jpg = await mediumJpg(jpgWidth, Math.round((jpgWidth * 2) / 3), stars, nebula, TINTS[filter], random);
  const fits = smallFits(192, 128, stars, nebula, random, cards);
  const fitsBz2 = bzip2(fits);

  return {
    baseFilename,
    files: [
      // The header text first: the archive creates the row from it before the pictures arrive.
      { name: `${baseFilename}-EX01.txt`, bytes: Buffer.from(headerText(cards), "latin1") },
      { name: `${baseFilename}-EX10.fits.bz2`, bytes: fitsBz2 },
      { name: `${baseFilename}-EX10.jpg`, bytes: jpg },
    ],
  };
}
