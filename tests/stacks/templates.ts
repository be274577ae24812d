import type { Template } from "aws-cdk-lib/assertions";
import { z } from "zod";

/** Readers for synthesized CloudFormation: resources by construct id, IAM statements as plain strings. */

const resourceSchema = z.object({ Type: z.string(), Properties: z.record(z.unknown()).optional() }).passthrough();
export type Resource = z.infer<typeof resourceSchema>;

export function resources(template: Template, type?: string): Record<string, Resource> {
  const all = z.record(resourceSchema).parse(template.toJSON()["Resources"] ?? {});
  return Object.fromEntries(Object.entries(all).filter(([, resource]) => !type || resource.Type === type));
}

/** The one resource of `type` whose logical id is the construct id plus CDK's 8-character hash. */
export function resourceById(template: Template, type: string, id: string): [string, Resource] {
  const matches = Object.entries(resources(template, type)).filter(([logicalId]) =>
    new RegExp(`^${id}[0-9A-F]{8}$`).test(logicalId),
  );
  if (matches.length !== 1) throw new Error(`expected one ${type} ${id}, found ${matches.map(([k]) => k).join(", ")}`);
  const [match] = matches;
  if (!match) throw new Error(`no ${type} ${id}`);
  return match;
}

export function properties(resource: Resource): Record<string, unknown> {
  return resource.Properties ?? {};
}

/** A CloudFormation value as a readable string: `arn:<AWS::Partition>:s3:::<import:…ArchiveBucket…>/data/*`. */
export function render(value: unknown): string {
  if (typeof value === "string") return value;
  const object = z.record(z.unknown()).safeParse(value);
  if (!object.success) return JSON.stringify(value);
  const join = z.tuple([z.string(), z.array(z.unknown())]).safeParse(object.data["Fn::Join"]);
  if (join.success) return join.data[1].map(render).join(join.data[0]);
  if ("Ref" in object.data) return `<${render(object.data["Ref"])}>`;
  const getAtt = z.array(z.string()).safeParse(object.data["Fn::GetAtt"]);
  if (getAtt.success) return `<${getAtt.data.join(".")}>`;
  if ("Fn::ImportValue" in object.data) return `<import:${render(object.data["Fn::ImportValue"])}>`;
  return JSON.stringify(value);
}

export interface Statement {
  effect: string;
  actions: string[];
  resources: string[];
  condition?: unknown;
}

const statementSchema = z.object({
  Effect: z.string(),
  Action: z.union([z.string(), z.array(z.string())]),
  Resource: z.unknown(),
  Condition: z.unknown().optional(),
});

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Every inline IAM statement of a function's role (SST `Function` id), resources rendered. */
export function functionStatements(template: Template, functionId: string): Statement[] {
  const [, fn] = resourceById(template, "AWS::Lambda::Function", functionId);
  const role = z.object({ "Fn::GetAtt": z.tuple([z.string(), z.literal("Arn")]) }).parse(properties(fn)["Role"]);
  const roleId = role["Fn::GetAtt"][0];
  const policies = Object.values(resources(template, "AWS::IAM::Policy")).filter((policy) =>
    z.array(z.object({ Ref: z.string() }).passthrough()).parse(properties(policy)["Roles"]).some((r) => r.Ref === roleId),
  );
  return policies.flatMap((policy) => {
    const document = z.object({ Statement: z.array(statementSchema) }).parse(properties(policy)["PolicyDocument"]);
    return document.Statement.map((statement) => ({
      effect: statement.Effect,
      actions: asList(statement.Action).sort(),
      resources: asList(statement.Resource).map(render),
      ...(statement.Condition === undefined ? {} : { condition: statement.Condition }),
    }));
  });
}

/** The statements that grant `action`. */
export function granting(statements: Statement[], action: string): Statement[] {
  return statements.filter((statement) => statement.actions.includes(action));
}

/** All actions a function may take, sorted and without duplicates. */
export function allActions(statements: Statement[]): string[] {
  return [...new Set(statements.flatMap((statement) => statement.actions))].sort();
}

/** The Lambda function resource of an SST `Function` id. */
export function lambdaFunction(template: Template, functionId: string): Record<string, unknown> {
  return properties(resourceById(template, "AWS::Lambda::Function", functionId)[1]);
}
