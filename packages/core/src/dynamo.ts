import { loadConfig } from "./config";
import { TransientError } from "./errors";
import { tables, type TableName } from "./tables";

/** The stage's real name of a logical table. */
export function tableName(table: TableName): string {
  return loadConfig()[tables[table].configKey];
}

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
