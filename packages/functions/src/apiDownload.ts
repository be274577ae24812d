import { httpApiHandler } from "./lib/http";

/** POST /download: a presigned GET for one file the bucket holds. */
export const handler = httpApiHandler();
