import { z } from "zod";
import { missingOf, type SiteGaps } from "@archive/core/exposures/counterGaps";
import { replyReason, type UploadTarget } from "./upload";

/**
 * The operations commands (`archive gaps`, …): GETs of the operations routes, with an operator token on a deployed
 * stage (`--token`, or $ARCHIVE_TOKEN) and without one against the local archive, where they are open.
 */
export type OperationsTarget = UploadTarget;

/**
 * One request to the archive's API (or the local archive's own /dlq routes) as JSON, with the target's token when it
 * has one; a refusal or an unreachable API is a RangeError with the API's reason.
 */
export async function requestArchive(
  target: OperationsTarget,
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  options: { query?: Record<string, string>; body?: unknown } = {},
): Promise<unknown> {
  const url = new URL(path.replace(/^\//, ""), target.api.endsWith("/") ? target.api : `${target.api}/`);
  for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.set(name, value);
  const headers: Record<string, string> = {
    ...(target.token ? { authorization: /^Bearer\s/i.test(target.token) ? target.token : `Bearer ${target.token}` } : {}),
    ...(options.body === undefined ? {} : { "content-type": "application/json" }),
  };
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }) }).catch((error: unknown) => {
    throw new RangeError(`no archive answers at ${target.api} (${error instanceof Error ? error.message : String(error)}): is \`npm start\` running, or is --api right?`);
  });
  const text = await response.text();
  if (!response.ok) throw new RangeError(`${method} ${url.pathname} answered ${response.status}: ${replyReason({ status: response.status, body: text })}`);
  return JSON.parse(text) as unknown;
}

const rangeSchema = z.object({ from: z.number(), to: z.number() });
const siteGapsSchema = z.object({
  site: z.string(),
  day: z.string(),
  instruments: z.array(
    z.object({ instrument: z.string(), first: z.number(), last: z.number(), exposures: z.number(), missing: z.array(rangeSchema) }),
  ),
});

/** `archive gaps --site S --day YYYYMMDD`: the missing counter ranges of a site's day, per instrument. */
export async function fetchGaps(target: OperationsTarget, site: string, day: string): Promise<SiteGaps> {
  return siteGapsSchema.parse(await requestArchive(target, "GET", `/gaps/${encodeURIComponent(site)}`, { query: { day } }));
}

const counter = (value: number) => String(value).padStart(8, "0");

/** One line per instrument: its counters, how many arrived, and the ranges missing. */
export function formatGaps(gaps: SiteGaps): string {
  if (gaps.instruments.length === 0) return `${gaps.site} ${gaps.day}: no exposures`;
  const lines = gaps.instruments.map(({ instrument, first, last, exposures, missing }) => {
    const count = missingOf({ missing });
    const ranges = missing.map((range) => (range.from === range.to ? counter(range.from) : `${counter(range.from)}-${counter(range.to)}`));
    const gapText = count === 0 ? "no gaps" : `${count} missing: ${ranges.join(", ")}`;
    return `${instrument}\t${counter(first)}-${counter(last)}\t${exposures} exposures\t${gapText}`;
  });
  return [`${gaps.site} ${gaps.day}`, ...lines].join("\n");
}
