import type { Table } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";

/** DynamoDB actions by what a function does with a table; no function gets more than its verb needs. */
export const tableActions = {
  read: ["dynamodb:GetItem", "dynamodb:Query"],
  write: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"],
} as const;

/** One statement for the given tables and their indexes. */
export function tableStatement(actions: readonly string[], ...targets: Table[]): PolicyStatement {
  return new PolicyStatement({
    actions: [...actions],
    resources: targets.flatMap((table) => [table.tableArn, `${table.tableArn}/index/*`]),
  });
}
