import { httpApiHandler } from "./lib/http";

/** GET /recentuploads, /infoimage/{site}/{channel}, /{site}/latest_images/{n}, /image/{base}, /fitsheader/{base}. */
export const handler = httpApiHandler();
