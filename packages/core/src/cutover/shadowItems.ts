import { BatchGetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { INFO_CHANNELS } from "../infoImages/infoChannels";
import { parseObjectKey, type ArchiveObjectKey } from "../names/fileName";
import type { AwsContext } from "../platform/context";
import { dynamoCall } from "../platform/dynamo";
import { InvalidInputError } from "../platform/errors";
import { tables } from "../platform/tables";
import { mapDifferences, PRESENCE, sameNumber, sameValue, type ComparedTable, type Difference, type Tolerances } from "./differences";

/**
 * The running system's three DynamoDB tables (live) beside the shadow copies the archive writes in shadow mode. The
 * upload logs are the index of what arrived since a time: their entries are compared by site and full key, and the
 * objects they name select the expiration entries (by base filename) and the info channels (by site) compared.
 * Every attribute of a live item must be on its shadow item with the same value (extra shadow attributes are
 * allowed: CONTRACTS.md lets the archive add fields); the epoch-second attributes within a tolerance, as each system
 * stamps the time it processed the event.
 */
export interface TablePair {
  live: string;
  shadow: string;
}

type Item = Record<string, unknown>;
type ItemContext = Pick<AwsContext, "dynamo">;

const UPLOAD_TIME = tables.uploadLog.sortKey.name;
const TIME_ATTRIBUTES: Readonly<Record<Exclude<ComparedTable, "images">, readonly string[]>> = {
  "recent-uploads-log": [UPLOAD_TIME, tables.uploadLog.ttlAttribute],
  "info-images": [tables.infoImages.ttlAttribute],
  "data-expiration-tracker": [tables.expirations.ttlAttribute],
};

/** BatchGetItem's limit of keys per call. */
const BATCH = 100;

async function scanSince(ctx: ItemContext, table: string, attribute: string, sinceSeconds: number): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const page = await dynamoCall(`scan ${table}`, () =>
      ctx.dynamo.send(
        new ScanCommand({
          TableName: table,
          FilterExpression: "#time >= :since",
          ExpressionAttributeNames: { "#time": attribute },
          ExpressionAttributeValues: { ":since": sinceSeconds },
          ExclusiveStartKey: startKey,
        }),
      ),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** The items of these partition keys (a table keyed by its partition key alone), by key. */
async function itemsByKey(ctx: ItemContext, table: string, keyName: string, keys: readonly string[]): Promise<Map<string, Item>> {
  const found = new Map<string, Item>();
  for (let start = 0; start < keys.length; start += BATCH) {
    let pending: Item[] | undefined = keys.slice(start, start + BATCH).map((key) => ({ [keyName]: key }));
    while (pending && pending.length > 0) {
      const request: Item[] = pending;
      const result = await dynamoCall(`read ${table}`, () =>
        ctx.dynamo.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: request } } })),
      );
      for (const item of result.Responses?.[table] ?? []) found.set(String(item[keyName]), item);
      pending = result.UnprocessedKeys?.[table]?.Keys;
    }
  }
  return found;
}

const numberOf = (value: unknown): number | undefined => (typeof value === "number" ? value : undefined);

/** The live item's attributes on the shadow item; `skip` are the key attributes. */
function itemDifferences(
  table: Exclude<ComparedTable, "images">,
  key: string,
  live: Item,
  shadow: Item,
  skip: readonly string[],
  tolerances: Tolerances,
): Difference[] {
  const base = { table, key };
  const differences: Difference[] = [];
  for (const attribute of Object.keys(live).sort()) {
    if (skip.includes(attribute)) continue;
    const [a, b] = [live[attribute], shadow[attribute]];
    const [x, y] = [numberOf(a), numberOf(b)];
    if (TIME_ATTRIBUTES[table].includes(attribute) && x !== undefined && y !== undefined && sameNumber(x, y, tolerances.itemSeconds)) continue;
    if (attribute === "header" && isMap(a) && isMap(b)) {
      differences.push(...mapDifferences(base, "header", a, b));
      continue;
    }
    if (!sameValue(a, b)) differences.push({ ...base, field: attribute, live: a, shadow: b });
  }
  return differences;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Set);
}

/** What the upload logs say arrived since the time (either side's), for the tables compared through them. */
export interface Arrivals {
  objects: ArchiveObjectKey[];
}

/**
 * The upload-log entries written since `sinceSeconds`, by site and full key (a file uploaded twice has two entries
 * on each side, paired in time order). Entries are read from a tolerance earlier, so one system's entry stamped just
 * before the time still finds the other's just after it.
 */
export async function compareUploadLogs(
  ctx: ItemContext,
  pair: TablePair,
  sinceSeconds: number,
  tolerances: Tolerances,
): Promise<{ compared: number; differences: Difference[]; arrivals: Arrivals }> {
  const from = sinceSeconds - tolerances.itemSeconds;
  const [live, shadow] = await Promise.all([scanSince(ctx, pair.live, UPLOAD_TIME, from), scanSince(ctx, pair.shadow, UPLOAD_TIME, from)]);
  const groups = new Map<string, { live: Item[]; shadow: Item[] }>();
  const add = (side: "live" | "shadow") => (item: Item) => {
    const key = `${String(item.site)} ${String(item.filename)}`;
    const group = groups.get(key) ?? { live: [], shadow: [] };
    group[side].push(item);
    groups.set(key, group);
  };
  live.forEach(add("live"));
  shadow.forEach(add("shadow"));
  const time = (item: Item | undefined) => numberOf(item?.[UPLOAD_TIME]) ?? 0;
  const differences: Difference[] = [];
  const arrived = new Set<string>();
  let compared = 0;
  for (const [key, group] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    group.live.sort((a, b) => time(a) - time(b));
    group.shadow.sort((a, b) => time(a) - time(b));
    for (let i = 0; i < Math.max(group.live.length, group.shadow.length); i += 1) {
      const [a, b] = [group.live[i], group.shadow[i]];
      // Both in the margin before the time: not part of this comparison.
      if (Math.max(time(a), time(b)) < sinceSeconds) continue;
      compared += 1;
      arrived.add(String((a ?? b)?.filename));
      if (a === undefined || b === undefined) {
        const loggedByArchiveOnly = a === undefined && !String(b?.filename).startsWith("data/");
        differences.push({
          table: "recent-uploads-log",
          key,
          field: PRESENCE.item,
          live: a?.[UPLOAD_TIME],
          shadow: b?.[UPLOAD_TIME],
          ...(loggedByArchiveOnly ? { explanation: "the archive logs every upload (the old ingester logged data/ only)" } : {}),
        });
        continue;
      }
      differences.push(...itemDifferences("recent-uploads-log", key, a, b, ["site", "filename"], tolerances));
    }
  }
  return { compared, differences, arrivals: { objects: [...arrived].flatMap(objectKeyOf) } };
}

/** The parsed key of a logged upload; names the archive does not parse (logged, never ingested) select nothing. */
function objectKeyOf(key: string): ArchiveObjectKey[] {
  try {
    return [parseObjectKey(key)];
  } catch (error) {
    if (error instanceof InvalidInputError) return [];
    throw error;
  }
}

/**
 * Items of a table keyed by `pk` alone, for the given keys. An item on one side only whose expiry has passed is not a
 * difference: each side's TTL deletes in its own time (and shadow mode expires nothing).
 */
async function compareItemsByKey(
  ctx: ItemContext,
  table: "info-images" | "data-expiration-tracker",
  pair: TablePair,
  keys: readonly string[],
  nowSeconds: number,
  tolerances: Tolerances,
  explainShadowOnly: (item: Item) => string | undefined,
): Promise<{ compared: number; differences: Difference[] }> {
  const [live, shadow] = await Promise.all([itemsByKey(ctx, pair.live, "pk", keys), itemsByKey(ctx, pair.shadow, "pk", keys)]);
  const [expiry] = TIME_ATTRIBUTES[table];
  const expired = (item: Item) => expiry !== undefined && (numberOf(item[expiry]) ?? Infinity) <= nowSeconds;
  const differences: Difference[] = [];
  let compared = 0;
  for (const key of [...keys].sort()) {
    const [a, b] = [live.get(key), shadow.get(key)];
    const present = a ?? b;
    if (present === undefined) continue;
    if (a === undefined || b === undefined) {
      if (expired(present)) continue;
      compared += 1;
      const explanation = a === undefined ? explainShadowOnly(present) : undefined;
      differences.push({
        table,
        key,
        field: PRESENCE.item,
        live: a && expiry ? a[expiry] : undefined,
        shadow: b && expiry ? b[expiry] : undefined,
        ...(explanation ? { explanation } : {}),
      });
      continue;
    }
    compared += 1;
    differences.push(...itemDifferences(table, key, a, b, ["pk"], tolerances));
  }
  return { compared, differences };
}

/** The expiration entries of the exposures that arrived (pk = base filename). */
export function compareExpirations(ctx: ItemContext, pair: TablePair, arrivals: Arrivals, nowSeconds: number, tolerances: Tolerances) {
  const keys = [...new Set(arrivals.objects.map((object) => object.baseFilename))];
  return compareItemsByKey(ctx, "data-expiration-tracker", pair, keys, nowSeconds, tolerances, (item) =>
    item.s3_directory === "data" ? undefined : "the archive also expires info-images/ and allsky/ (the old service tracked data/ only)",
  );
}

/** The three channels of every site an info image arrived for (pk = `{site}#{n}`); `{site}#metadata` is the upload route's. */
export function compareInfoImages(ctx: ItemContext, pair: TablePair, arrivals: Arrivals, nowSeconds: number, tolerances: Tolerances) {
  const sites = new Set(arrivals.objects.filter((object) => object.directory === "info-images").map((object) => object.site));
  const keys = [...sites].flatMap((site) => INFO_CHANNELS.map((channel) => `${site}#${channel}`));
  return compareItemsByKey(ctx, "info-images", pair, keys, nowSeconds, tolerances, () => undefined);
}
