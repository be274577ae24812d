import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";

/** DynamoDB actions by what a function does with a table; no function gets more than its verb needs. */
export const tableActions = {
  // Scan: the running system's tables have no index, so "all sites" reads the whole (small, TTL-bounded) table.
  read: ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"],
  write: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"],
} as const;

/** One statement for the given tables and their indexes. */
export function tableStatement(actions: readonly string[], ...targets: ITable[]): PolicyStatement {
  return new PolicyStatement({
    actions: [...actions],
    resources: targets.flatMap((table) => [table.tableArn, `${table.tableArn}/index/*`]),
  });
}
