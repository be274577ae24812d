import { httpApiHandler } from "./lib/http";

/** POST /upload: a presigned POST for one file, after the authorizer's caller is checked against the file's site. */
export const handler = httpApiHandler();
