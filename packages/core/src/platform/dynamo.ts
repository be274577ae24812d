import { UpdateCommand, type UpdateCommandInput } from "@aws-sdk/lib-dynamodb";
import type { z } from "zod";
import type { AwsContext } from "./context";
import { TransientError } from "./errors";

/** A conditional write whose condition did not hold: an expected outcome, never a fault. */
export function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

/** A failed DynamoDB call as a TransientError naming what was attempted, so the record is retried. */
export function dynamoFault(what: string, error: unknown): TransientError {
  if (error instanceof TransientError) return error;
  return new TransientError(`DynamoDB: cannot ${what}: ${error instanceof Error ? error.message : String(error)}`, {
    cause: error,
  });
}

/** Runs one DynamoDB call; any failure becomes a TransientError. */
export async function dynamoCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw dynamoFault(what, error);
  }
}

export const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

/** `SET #f0 = :f0, …` for a map of attributes, the names and values a DynamoDB update needs for it. */
export function setAttributes(fields: Record<string, unknown>) {
  const names = Object.keys(fields);
  return {
    UpdateExpression: `SET ${names.map((_, i) => `#f${i} = :f${i}`).join(", ")}`,
    ExpressionAttributeNames: Object.fromEntries(names.map((name, i) => [`#f${i}`, name])),
    ExpressionAttributeValues: Object.fromEntries(names.map((name, i) => [`:f${i}`, fields[name]])),
  };
}

/** One page of a query: its items and where the next page starts. */
export interface ItemPage {
  Items?: Record<string, unknown>[];
  LastEvaluatedKey?: Record<string, unknown>;
}

/**
 * Up to `limit` items of a paged query that match `schema`, in the query's order. An item of another shape is left
 * out with a warning: one bad item never hides the rest.
 */
export async function queryValidItems<T>(
  ctx: Pick<AwsContext, "log">,
  what: string,
  schema: z.ZodType<T, z.ZodTypeDef, unknown>,
  limit: number,
  page: (startKey: Record<string, unknown> | undefined) => Promise<ItemPage>,
): Promise<T[]> {
  const items: T[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const result = await dynamoCall(what, () => page(startKey));
    for (const item of result.Items ?? []) {
      const parsed = schema.safeParse(item);
      if (parsed.success) items.push(parsed.data);
      else ctx.log.warn(`${what}: an item of an unexpected shape is left out`, { issues: parsed.error.issues });
    }
    startKey = result.LastEvaluatedKey;
  } while (startKey && items.length < limit);
  return items.slice(0, limit);
}

/** A conditional update: true when written, false when its condition did not hold; any fault is a TransientError. */
export async function updateIfCondition(
  ctx: Pick<AwsContext, "dynamo">,
  what: string,
  input: UpdateCommandInput,
): Promise<boolean> {
  try {
    await ctx.dynamo.send(new UpdateCommand(input));
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw dynamoFault(what, error);
  }
}
