import type { FitsHeader } from "@archive/core/fitsHeader";
export interface ImageHeaderFields {
  right_ascension: number | null; declination: number | null; altitude: number | null; azimuth: number | null;
  filter_used: string | null; airmass: number | null; exposure_time: number | null;
  user_id: string | null; username: string | null;
  capture_date: Date | null; sort_date: Date | null;
  header: string;
}
const num = (v: unknown) => (typeof v === "number" ? v : null);
const str = (v: unknown) => (typeof v === "string" ? v : null);
export function imageFieldsFromHeader(h: FitsHeader): ImageHeaderFields {
  const c = h.cards;
  const d = typeof c["DATE-OBS"] === "string" ? new Date(`${c["DATE-OBS"]}Z`) : null;
  return { right_ascension: num(c.RA), declination: num(c.DEC), altitude: num(c.ALTITUDE), azimuth: num(c.AZIMUTH),
    filter_used: str(c.FILTER), airmass: num(c.AIRMASS), exposure_time: num(c.EXPTIME), user_id: str(c.USERID), username: str(c.USERNAME),
    capture_date: d, sort_date: d, header: JSON.stringify(c) };
}
