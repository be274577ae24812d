import { DeleteCommand, ScanCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { logger } from "./log";
import { tables, type TableDefinition, type TableName } from "@archive/core/platform/tables";

/**
 * DynamoDB's TTL, which dynalite lacks: every few seconds the expiration tracker's due entries go through the same
 * sweep the scheduled function runs in AWS (which deletes the exposure's objects and row), and expired items of the
 * other TTL tables are deleted as DynamoDB would.
 */
export interface TtlEmulationOptions {
  dynamo: DynamoDBDocumentClient;
  tableNames: Record<TableName, string>;
  /** The expiration sweep (the scheduled function's work); it removes the tracker entries it handles. */
  sweepExpirations(now: Date): Promise<unknown>;
  intervalMs: number;
}

export interface TtlEmulation {
  /** One pass now; resolves when done (tests and the interval use it). */
  runOnce(now?: Date): Promise<void>;
  stop(): Promise<void>;
}

const PLAIN_TTL_TABLES = (Object.keys(tables) as TableName[]).filter((name) => {
  const table: TableDefinition = tables[name];
  // The tracker's deletions must expire data, so only the sweep removes its entries.
  return table.ttlAttribute !== undefined && table.stream === undefined;
});

async function deleteExpired(dynamo: DynamoDBDocumentClient, table: TableName, name: string, now: Date): Promise<number> {
  const definition: TableDefinition = tables[table];
  const ttl = definition.ttlAttribute;
  if (ttl === undefined) return 0;
  const keyNames = [definition.partitionKey.name, ...(definition.sortKey ? [definition.sortKey.name] : [])];
  let deleted = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(
      new ScanCommand({
        TableName: name,
        FilterExpression: "#ttl <= :now",
        ExpressionAttributeNames: { "#ttl": ttl },
        ExpressionAttributeValues: { ":now": Math.floor(now.getTime() / 1000) },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      await dynamo.send(new DeleteCommand({ TableName: name, Key: Object.fromEntries(keyNames.map((key) => [key, item[key]])) }));
      deleted += 1;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return deleted;
}

export function startTtlEmulation(options: TtlEmulationOptions): TtlEmulation {
  let running: Promise<void> | undefined;

  const runOnce = async (now = new Date()): Promise<void> => {
    try {
      await options.sweepExpirations(now);
    } catch (error) {
      logger.error("the local expiration sweep failed; it runs again shortly", { error: error instanceof Error ? error : String(error) });
    }
    for (const table of PLAIN_TTL_TABLES) {
      try {
        const deleted = await deleteExpired(options.dynamo, table, options.tableNames[table], now);
        if (deleted > 0) logger.info("expired items deleted", { table: options.tableNames[table], deleted });
      } catch (error) {
        logger.error("local TTL deletion failed", { table: options.tableNames[table], error: error instanceof Error ? error : String(error) });
      }
    }
  };

  const timer = setInterval(() => {
    // A slow pass is never overlapped by the next one.
    if (running !== undefined) return;
    running = runOnce().finally(() => {
      running = undefined;
    });
  }, options.intervalMs);

  return {
    runOnce,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
