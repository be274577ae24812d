import { CfnRoute, CfnStage, type HttpApi as CdkHttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IConstruct } from "constructs";
import { Api as HttpApi, use, type ApiRouteProps, type Function, type StackContext } from "sst/constructs";
import { API_ROUTES, CORS_POLICY, DEFAULT_ROUTE_THROTTLE, routeKey, type ApiFunctionName } from "../packages/core/src/api/routes";
import { alarmOnFunction } from "./alarms";
import { Database } from "./Database";
import { Ingest } from "./Ingest";
import { archiveFunction } from "./functions";
import { Monitoring } from "./Monitoring";
import { sharpLayer } from "./sharpLayer";
import { tableActions, tableStatement } from "./permissions";
import { Storage } from "./Storage";

/** HTTP APIs give an integration at most 30 s. */
const API_GATEWAY_TIMEOUT_SECONDS = 30;
/** A full frame decoded as float64 is ~490 MB; conversions hold it, its scaled copy and the encoded output. */
const DOWNLOAD_MEMORY_MB = 3008;

/**
 * The HTTP API sites, the frontend and operators call: presigned uploads (site token required), the read endpoints,
 * and the operations routes (operator token required).
 */
export function Api({ stack }: StackContext) {
  const { bucket, tables, environment, config } = use(Storage);
  const { database, migrations } = use(Database);
  const { alarmTopic } = use(Monitoring);
  const { ingestQueues, ingestQueueEnvironment } = use(Ingest);
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

  /** A function of quick database-backed routes: 512 MB, 10 s, one connection, only the statements given. */
  const routeFunction = (id: string, handler: ApiFunctionName, statements: PolicyStatement[]) =>
    archiveFunction(stack, id, { handler, memorySize: 512, timeoutSeconds: 10, environment, database, connects: true, retainLogs, statements });

  const apiUpload = routeFunction("ApiUpload", "apiUpload", [
    // A presigned POST carries the signer's rights: only new objects under the ingest prefixes and test/.
    new PolicyStatement({ actions: ["s3:PutObject"], resources: objects("data/", "info-images/", "allsky/", "test/") }),
    tableStatement(tableActions.write, tables.infoImages),
    // Per site, an anonymous upload is refused once the site has an active token, and counted while it has none.
    tableStatement(tableActions.read, tables.siteTokens),
    tableStatement(["dynamodb:UpdateItem"], tables.anonymousUploads),
  ]);

  const apiReads = routeFunction("ApiReads", "apiReads", [
    // Presigned GETs for the exposure and info-image jpgs the read endpoints return.
    new PolicyStatement({ actions: ["s3:GetObject"], resources: objects("data/", "info-images/") }),
    tableStatement(tableActions.read, tables.uploadLog, tables.infoImages),
  ]);

  // Conversions (a 9576×6388 frame to FITS or a bzip2'd TIFF) and zips run here, never in the read functions: memory
  // for the decoded frame and its copies (see the bench), and the most time API Gateway waits for an answer.
  const apiDownload = archiveFunction(stack, "ApiDownload", {
    handler: "apiDownload",
    memorySize: DOWNLOAD_MEMORY_MB,
    timeoutSeconds: API_GATEWAY_TIMEOUT_SECONDS - 1,
    environment,
    database,
    connects: true,
    // TIFFs are written by sharp.
    sharp: sharpLayer(stack),
    retainLogs,
    // The bzip2 compressor's WebAssembly, found next to the bundle as in node_modules.
    copyFiles: ["package.json", "bzip2-1.0.8/bzip2.wasm"].map((file) => ({
      from: `node_modules/bzip2-wasm/${file}`,
      to: `node_modules/bzip2-wasm/${file}`,
    })),
    statements: [
      new PolicyStatement({ actions: ["s3:GetObject"], resources: objects("data/", "info-images/", "allsky/", "test/", "downloads/") }),
      new PolicyStatement({ actions: ["s3:PutObject"], resources: objects("downloads/") }),
      // S3 answers a missing key with 404 (not 403) only to a caller that may list the bucket.
      new PolicyStatement({ actions: ["s3:ListBucket"], resources: [bucket.bucketArn] }),
    ],
  });

  // The operations routes (operator tokens only) query the database; the expiry plan scans the expiration tracker (the
  // running system's table, no index) and an unpin past its expiry writes the exposure's entry again; the quarantine
  // routes read and mark the quarantine, read objects' heads and delivery records, list the bucket (reconcile) and send
  // to the ingest queues (re-ingest).
  const apiOperations = routeFunction("ApiOperations", "apiOperations", [
    tableStatement(["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:PutItem"], tables.expirations),
    new PolicyStatement({ actions: ["s3:GetObject"], resources: objects("data/", "info-images/", "allsky/") }),
    new PolicyStatement({ actions: ["s3:ListBucket"], resources: [bucket.bucketArn] }),
    tableStatement(["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:Scan"], tables.quarantine),
    tableStatement(["dynamodb:GetItem", "dynamodb:BatchGetItem"], tables.objectDeliveries),
    new PolicyStatement({ actions: ["sqs:SendMessage"], resources: ingestQueues.map((queue) => queue.queueArn) }),
  ]);
  for (const [name, value] of Object.entries(ingestQueueEnvironment)) apiOperations.addEnvironment(name, value);
  // Within its 10 s timeout; a longer window is the hourly ReconcileObjects function's (the report says "incomplete").
  apiOperations.addEnvironment("RECONCILE_API_BUDGET_SECONDS", "6");

  for (const fn of [apiUpload, apiReads, apiDownload, apiOperations]) fn.node.addDependency(migrations);
  const functions: Record<ApiFunctionName, Function> = { apiUpload, apiReads, apiDownload, apiOperations };

  const api = new HttpApi(stack, "Api", {
    authorizers: {
      site: {
        type: "lambda",
        function: authorizer,
        responseTypes: ["simple"],
        // Without a required header every request reaches the authorizer, which admits anonymous uploads itself.
        identitySource: config.allowAnonymousUploads === "false" ? ["$request.header.Authorization"] : [],
        // A revoked token stops working within a minute.
        resultsCacheTtl: config.allowAnonymousUploads === "false" ? "60 seconds" : "0 seconds",
      },
      // The same function in front of the operations routes, on every request: a request without a token reaches it
      // (and gets our JSON 401, not API Gateway's), and a revoked operator token stops at once (nothing is cached).
      operator: {
        type: "lambda",
        function: authorizer,
        responseTypes: ["simple"],
        identitySource: [],
        resultsCacheTtl: "0 seconds",
      },
    },
    // CORS is set here, once: API Gateway answers preflights and adds the headers to every response.
    cors: {
      allowOrigins: config.corsOrigins,
      allowMethods: [...CORS_POLICY.allowMethods],
      allowHeaders: [...CORS_POLICY.allowHeaders],
      maxAge: `${CORS_POLICY.maxAgeSeconds} seconds`,
    },
    defaults: { throttle: DEFAULT_ROUTE_THROTTLE },
    // Every route of core's route table, on the function the table names.
    routes: Object.fromEntries(
      API_ROUTES.map((route): [string, ApiRouteProps<"site" | "operator">] => [
        routeKey(route),
        {
          function: functions[route.functionName],
          ...("operatorOnly" in route ? { authorizer: "operator" } : "authorized" in route ? { authorizer: "site" } : {}),
        },
      ]),
    ),
  });

  throttleEachRoute(api.cdk.httpApi, api);

  for (const fn of [authorizer, apiUpload, apiReads, apiDownload, apiOperations]) alarmOnFunction(stack, fn.id, fn, alarmTopic);
  stack.addOutputs({ ApiUrl: api.url });
  return { api };
}

/**
 * The route table's throttle on each route, as the stage's route settings (SST sets only the stage default). The stage
 * must come after the routes it names, or CloudFormation cannot find them.
 */
function throttleEachRoute(httpApi: CdkHttpApi, routesScope: IConstruct): void {
  const stage = httpApi.defaultStage?.node.defaultChild;
  if (!(stage instanceof CfnStage)) throw new Error("the HTTP API has no default stage to throttle");
  stage.routeSettings = Object.fromEntries(
    API_ROUTES.map((route) => [
      routeKey(route),
      // A JSON map, written as CloudFormation spells it (CDK does not rename keys inside it).
      { ThrottlingRateLimit: route.throttle.rate, ThrottlingBurstLimit: route.throttle.burst },
    ]),
  );
  for (const child of routesScope.node.findAll()) if (child instanceof CfnRoute) stage.addDependency(child);
}
