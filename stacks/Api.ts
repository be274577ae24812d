import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Api as HttpApi, use, type ApiRouteProps, type Function, type StackContext } from "sst/constructs";
import { API_ROUTES, CORS_POLICY, routeKey, type ApiFunctionName } from "../packages/core/src/api/routes";
import { alarmOnFunction } from "./alarms";
import { Database } from "./Database";
import { archiveFunction } from "./functions";
import { Monitoring } from "./Monitoring";
import { tableActions, tableStatement } from "./permissions";
import { Storage } from "./Storage";

/** The HTTP API sites and the frontend call: presigned uploads (site token required) and the read endpoints. */
export function Api({ stack }: StackContext) {
  const { bucket, tables, environment, config } = use(Storage);
  const { database, migrations } = use(Database);
  const { alarmTopic } = use(Monitoring);
  const retainLogs = config.retainData;
  const objects = (...prefixes: string[]) => prefixes.map((prefix) => bucket.arnForObjects(`${prefix}*`));

  const authorizer = archiveFunction(stack, "Authorizer", {
    handler: "authorizer",
    memorySize: 256,
    timeoutSeconds: 5,
    environment,
    database,
    connects: false,
    retainLogs,
    statements: [new PolicyStatement({ actions: ["dynamodb:GetItem"], resources: [tables.siteTokens.tableArn] })],
  });

  const apiUpload = archiveFunction(stack, "ApiUpload", {
    handler: "apiUpload",
    memorySize: 512,
    timeoutSeconds: 10,
    environment,
    database,
    connects: true,
    retainLogs,
    statements: [
      // A presigned POST carries the signer's rights: only new objects under the three ingest prefixes.
      new PolicyStatement({ actions: ["s3:PutObject"], resources: objects("data/", "info-images/", "allsky/") }),
      tableStatement(tableActions.write, tables.infoImages),
    ],
  });

  const apiReads = archiveFunction(stack, "ApiReads", {
    handler: "apiReads",
    memorySize: 512,
    timeoutSeconds: 10,
    environment,
    database,
    connects: true,
    retainLogs,
    statements: [
      // Presigned GETs for the exposure and info-image jpgs the read endpoints return.
      new PolicyStatement({ actions: ["s3:GetObject"], resources: objects("data/", "info-images/") }),
      tableStatement(tableActions.read, tables.uploadLog, tables.infoImages),
    ],
  });

  const apiDownload = archiveFunction(stack, "ApiDownload", {
    handler: "apiDownload",
    memorySize: 256,
    timeoutSeconds: 10,
    environment,
    database,
    connects: false,
    retainLogs,
    statements: [
      new PolicyStatement({ actions: ["s3:GetObject"], resources: objects("data/", "info-images/", "allsky/") }),
      // S3 answers a missing key with 404 (not 403) only to a caller that may list the bucket.
      new PolicyStatement({ actions: ["s3:ListBucket"], resources: [bucket.bucketArn] }),
    ],
  });

  for (const fn of [apiUpload, apiReads]) fn.node.addDependency(migrations);
  const functions: Record<ApiFunctionName, Function> = { apiUpload, apiReads, apiDownload };

  const api = new HttpApi(stack, "Api", {
    authorizers: {
      site: {
        type: "lambda",
        function: authorizer,
        responseTypes: ["simple"],
        // Without a required header every request reaches the authorizer, which admits anonymous uploads itself.
        identitySource: config.allowAnonymousUploads ? [] : ["$request.header.Authorization"],
        // A revoked token stops working within a minute.
        resultsCacheTtl: config.allowAnonymousUploads ? "0 seconds" : "60 seconds",
      },
    },
    // CORS is set here, once: API Gateway answers preflights and adds the headers to every response.
    cors: {
      allowOrigins: config.corsOrigins,
      allowMethods: [...CORS_POLICY.allowMethods],
      allowHeaders: [...CORS_POLICY.allowHeaders],
      maxAge: `${CORS_POLICY.maxAgeSeconds} seconds`,
    },
    // Every route of core's route table, on the function the table names.
    routes: Object.fromEntries(
      API_ROUTES.map((route): [string, ApiRouteProps<"site">] => [
        routeKey(route),
        { function: functions[route.functionName], ...("authorized" in route ? { authorizer: "site" } : {}) },
      ]),
    ),
  });

  for (const fn of [authorizer, apiUpload, apiReads, apiDownload]) alarmOnFunction(stack, fn.id, fn, alarmTopic);
  stack.addOutputs({ ApiUrl: api.url });
  return { api };
}
