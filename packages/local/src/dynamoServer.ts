import type { AddressInfo } from "node:net";
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type AttributeDefinition,
  type CreateTableCommandInput,
  type TableDescription,
} from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import { tables, type TableDefinition, type TableName } from "@archive/core/platform/tables";
import { logger } from "./log";

export type TableNames = Record<TableName, string>;

export interface LocalDynamoServer {
  endpoint: string;
  tableNames: TableNames;
  close(): Promise<void>;
}

export interface LocalDynamoOptions {
  port?: number;
  /** Real names of the logical tables; the replaced system's names (tables.ts baseName) when not given. */
  tableNames?: Partial<TableNames>;
  /** A directory to persist tables in (the local archive's state dir); in memory when absent. */
  path?: string;
}

/** The table's key schema, attribute definitions and indexes as CreateTable wants them (dynalite has no TTL or streams). */
export function createTableInput(name: string, table: TableDefinition): CreateTableCommandInput {
  const attributes = new Map<string, AttributeDefinition>();
  const define = (key: { name: string; type: "S" | "N" }) =>
    attributes.set(key.name, { AttributeName: key.name, AttributeType: key.type });
  define(table.partitionKey);
  if (table.sortKey) define(table.sortKey);
  for (const index of table.globalIndexes ?? []) {
    define(index.partitionKey);
    if (index.sortKey) define(index.sortKey);
  }
  return {
    TableName: name,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [...attributes.values()],
    KeySchema: [
      { AttributeName: table.partitionKey.name, KeyType: "HASH" },
      ...(table.sortKey ? [{ AttributeName: table.sortKey.name, KeyType: "RANGE" as const }] : []),
    ],
    ...(table.globalIndexes?.length
      ? {
          GlobalSecondaryIndexes: table.globalIndexes.map((index) => ({
            IndexName: index.indexName,
            KeySchema: [
              { AttributeName: index.partitionKey.name, KeyType: "HASH" as const },
              ...(index.sortKey ? [{ AttributeName: index.sortKey.name, KeyType: "RANGE" as const }] : []),
            ],
            Projection: { ProjectionType: "ALL" as const },
          })),
        }
      : {}),
  };
}

export function listeningPort(address: AddressInfo | string | null): number {
  if (address === null || typeof address === "string") throw new Error("the server is not listening on a TCP port");
  return address.port;
}

/** The keys and index names a table is created with, comparable with what DescribeTable reports. */
function shapeOf(table: Pick<TableDescription, "KeySchema" | "AttributeDefinitions" | "GlobalSecondaryIndexes">): string {
  const keys = (table.KeySchema ?? []).map((key) => {
    const type = table.AttributeDefinitions?.find((attribute) => attribute.AttributeName === key.AttributeName)?.AttributeType;
    return `${key.KeyType}:${key.AttributeName}:${type}`;
  });
  const indexes = (table.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName).sort();
  return JSON.stringify({ keys, indexes });
}

/**
 * A persisted table created by an older version with other keys (before the running system's shapes) cannot hold
 * today's items: it is dropped and created anew, losing only local items (upload log, channels, pending expirations).
 */
async function replaceIfReshaped(client: DynamoDBClient, input: CreateTableCommandInput): Promise<void> {
  const { Table: existing } = await client.send(new DescribeTableCommand({ TableName: input.TableName }));
  if (!existing || shapeOf(existing) === shapeOf(input)) return;
  logger.warn("a persisted table has an older key schema; it is created anew, empty", {
    table: input.TableName,
    was: shapeOf(existing),
    now: shapeOf(input),
  });
  await client.send(new DeleteTableCommand({ TableName: input.TableName }));
  await client.send(new CreateTableCommand(input));
}

/** Starts dynalite (in memory) on 127.0.0.1 and creates every table of core/tables.ts. */
export async function startDynamoServer(options: LocalDynamoOptions = {}): Promise<LocalDynamoServer> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(options.path ? { path: options.path } : {}) });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const endpoint = `http://127.0.0.1:${listeningPort(server.address())}`;
  const tableNames = Object.fromEntries(
    (Object.keys(tables) as TableName[]).map((name) => [name, options.tableNames?.[name] ?? tables[name].baseName]),
  ) as TableNames;
  const client = new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  try {
    for (const name of Object.keys(tables) as TableName[]) {
      const input = createTableInput(tableNames[name], tables[name]);
      await client.send(new CreateTableCommand(input)).catch(async (error: unknown) => {
        // A persisted directory already holds its tables from the last run.
        if (!(options.path && error instanceof Error && error.name === "ResourceInUseException")) throw error;
        await replaceIfReshaped(client, input);
      });
    }
  } finally {
    client.destroy();
  }
  return {
    endpoint,
    tableNames,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
