import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { API_ROUTES, DEFAULT_ROUTE_THROTTLE, routeKey } from "../../packages/core/src/api/routes";
import { synthesizeStage } from "./synthesize";
import { allActions, functionStatements, granting, lambdaFunction, properties, resourceById, resources } from "./templates";

let api: Template;

beforeAll(async () => {
  api = (await synthesizeStage("test")).templates.Api;
});

const routeTargets = () =>
  Object.fromEntries(
    Object.values(resources(api, "AWS::ApiGatewayV2::Route")).map((route) => [
      String(properties(route)["RouteKey"]),
      properties(route),
    ]),
  );

describe("the HTTP API", () => {
  it("serves exactly the routes of core's route table: upload, download and the reads", () => {
    expect(Object.keys(routeTargets()).sort()).toEqual(API_ROUTES.map(routeKey).sort());
    expect(Object.keys(routeTargets())).toEqual(expect.arrayContaining(["POST /upload", "POST /download", "GET /recentuploads"]));
  });

  it("sends each route to the function the route table names", () => {
    const targets = routeTargets();
    const integrations = resources(api, "AWS::ApiGatewayV2::Integration");
    for (const route of API_ROUTES) {
      const functionName = `${route.functionName[0]?.toUpperCase()}${route.functionName.slice(1)}`;
      const [functionId] = resourceById(api, "AWS::Lambda::Function", functionName);
      const target = JSON.stringify(targets[routeKey(route)]?.["Target"]);
      const integration = Object.entries(integrations).find(([id]) => target.includes(`"${id}"`))?.[1];
      if (!integration) throw new Error(`${routeKey(route)} has no integration`);
      expect(JSON.stringify(properties(integration)["IntegrationUri"]), routeKey(route)).toContain(functionId);
    }
  });

  it("guards the routes the table marks (POST /upload), and only those, with the site-token Lambda authorizer", () => {
    const [authorizerId, authorizer] = resourceById(api, "AWS::ApiGatewayV2::Authorizer", "Apisite");
    expect(properties(authorizer)).toMatchObject({
      AuthorizerType: "REQUEST",
      EnableSimpleResponses: true,
      AuthorizerPayloadFormatVersion: "2.0",
      IdentitySource: ["$request.header.Authorization"],
      AuthorizerResultTtlInSeconds: 60,
    });
    const [authorizerFunction] = resourceById(api, "AWS::Lambda::Function", "Authorizer");
    expect(JSON.stringify(properties(authorizer)["AuthorizerUri"])).toContain(authorizerFunction);
    const [operatorAuthorizerId] = resourceById(api, "AWS::ApiGatewayV2::Authorizer", "Apioperator");
    for (const [routeKey, route] of Object.entries(routeTargets())) {
      if (API_ROUTES.some((route) => "authorized" in route && `${route.method} ${route.path}` === routeKey)) {
        expect(route).toMatchObject({ AuthorizationType: "CUSTOM", AuthorizerId: { Ref: authorizerId } });
      } else if (API_ROUTES.some((route) => "operatorOnly" in route && `${route.method} ${route.path}` === routeKey)) {
        expect(route, routeKey).toMatchObject({ AuthorizationType: "CUSTOM", AuthorizerId: { Ref: operatorAuthorizerId } });
      } else {
        expect(route["AuthorizerId"], routeKey).toBeUndefined();
      }
    }
  });

  it("mounts the operations routes (GET /gaps/{site}) on apiOperations behind the operator authorizer, asked on every request", () => {
    const [operatorAuthorizerId, operatorAuthorizer] = resourceById(api, "AWS::ApiGatewayV2::Authorizer", "Apioperator");
    const [authorizerFunction] = resourceById(api, "AWS::Lambda::Function", "Authorizer");
    // No identity source and no cache: a request without a token reaches the function and gets our JSON 401, and a
    // revoked operator token stops at once.
    expect(properties(operatorAuthorizer)).toMatchObject({
      AuthorizerType: "REQUEST",
      EnableSimpleResponses: true,
      AuthorizerPayloadFormatVersion: "2.0",
      AuthorizerResultTtlInSeconds: 0,
    });
    expect(properties(operatorAuthorizer)["IdentitySource"] ?? []).toEqual([]);
    expect(JSON.stringify(properties(operatorAuthorizer)["AuthorizerUri"])).toContain(authorizerFunction);
    const operatorRoutes = API_ROUTES.filter((route) => "operatorOnly" in route).map(routeKey);
    expect(operatorRoutes).toEqual(
      expect.arrayContaining([
        "GET /gaps/{site}",
        "GET /status/{base_filename}",
        "GET /stuck",
        "GET /expiry",
        "PUT /pin/{base_filename}",
        "DELETE /pin/{base_filename}",
        "GET /quarantine",
        "POST /reingest",
        "POST /reconcile",
      ]),
    );
    for (const key of operatorRoutes) {
      expect(routeTargets()[key], key).toMatchObject({ AuthorizationType: "CUSTOM", AuthorizerId: { Ref: operatorAuthorizerId } });
    }
  });

  it("throttles every route at the route table's rate and burst, and any other at the stage default", () => {
    const [stage] = Object.values(resources(api, "AWS::ApiGatewayV2::Stage"));
    if (!stage) throw new Error("the API has no stage");
    const routeIds = Object.keys(resources(api, "AWS::ApiGatewayV2::Route"));
    expect(properties(stage)["DefaultRouteSettings"]).toMatchObject({
      ThrottlingRateLimit: DEFAULT_ROUTE_THROTTLE.rate,
      ThrottlingBurstLimit: DEFAULT_ROUTE_THROTTLE.burst,
    });
    expect(properties(stage)["RouteSettings"]).toEqual(
      Object.fromEntries(
        API_ROUTES.map((route) => [
          routeKey(route),
          { ThrottlingRateLimit: route.throttle.rate, ThrottlingBurstLimit: route.throttle.burst },
        ]),
      ),
    );
    // Conversions are throttled hardest: each holds a 3 GB function for up to 29 s.
    expect(API_ROUTES.find((route) => route.path === "/download")?.throttle.rate).toBeLessThan(
      API_ROUTES.find((route) => route.path === "/upload")?.throttle.rate ?? 0,
    );
    // The route settings name routes, so CloudFormation must create them first.
    expect((stage as { DependsOn?: string[] }).DependsOn).toEqual(expect.arrayContaining(routeIds));
  });

  it("allows browsers to call it across origins with the Authorization header", () => {
    api.hasResourceProperties("AWS::ApiGatewayV2::Api", {
      ProtocolType: "HTTP",
      CorsConfiguration: Match.objectLike({
        AllowOrigins: ["*"],
        AllowMethods: ["GET", "POST", "PUT", "DELETE"],
        AllowHeaders: ["Authorization", "Content-Type"],
      }),
    });
  });

  it("outputs its URL", () => {
    expect(Object.keys(api.findOutputs("ApiUrl"))).toEqual(["ApiUrl"]);
  });
});

describe("API functions", () => {
  const ids = ["Authorizer", "ApiUpload", "ApiReads", "ApiDownload", "ApiOperations"];

  it.each(ids)("%s runs on nodejs22.x and arm64", (id) => {
    expect(lambdaFunction(api, id)).toMatchObject({ Runtime: "nodejs22.x", Architectures: ["arm64"] });
  });

  it("the authorizer may only read the site-tokens table", () => {
    const statements = functionStatements(api, "Authorizer");
    expect(statements).toEqual([
      { effect: "Allow", actions: ["dynamodb:GetItem"], resources: [expect.stringMatching(/SiteTokensTable\w+Arn/)] },
    ]);
  });

  it("upload presigns PutObject under data/, info-images/, allsky/ and test/ only, and never reads objects", () => {
    const statements = functionStatements(api, "ApiUpload");
    const [put] = granting(statements, "s3:PutObject");
    expect(put?.resources.map((r) => r.replace(/^.*ArchiveBucket\w+Arn\w*>/, "<bucket>"))).toEqual([
      "<bucket>/data/*",
      "<bucket>/info-images/*",
      "<bucket>/allsky/*",
      "<bucket>/test/*",
    ]);
    expect(granting(statements, "s3:GetObject")).toEqual([]);
    expect(granting(statements, "s3:DeleteObject")).toEqual([]);
  });

  it("reads may only read: no write action on S3 or DynamoDB", () => {
    const actions = allActions(functionStatements(api, "ApiReads"));
    expect(actions).toEqual([
      "dynamodb:GetItem",
      "dynamodb:Query",
      // GET /recentuploads?site=all: the upload log is the running system's table, with no index across sites.
      "dynamodb:Scan",
      "s3:GetObject",
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetSecretValue",
    ]);
  });

  it("operations read the database, the quarantine and the delivery records, scan the expiration tracker (an entry put on unpin), list and read objects, and send only to the ingest queues", () => {
    const statements = functionStatements(api, "ApiOperations");
    expect(allActions(statements)).toEqual([
      "dynamodb:BatchGetItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:Scan",
      "dynamodb:UpdateItem",
      "s3:GetObject",
      "s3:ListBucket",
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetSecretValue",
      "sqs:SendMessage",
    ]);
    expect(JSON.stringify(granting(statements, "dynamodb:PutItem").flatMap((statement) => statement.resources))).toMatch(/ExpirationsTable/);
    expect(JSON.stringify(granting(statements, "dynamodb:PutItem").flatMap((statement) => statement.resources))).not.toMatch(/Quarantine/);
    expect(granting(statements, "dynamodb:DeleteItem")).toEqual([]);
    const sends = granting(statements, "sqs:SendMessage").flatMap((statement) => statement.resources);
    expect(sends).toHaveLength(3);
    for (const queue of sends) expect(queue).toMatch(/(Data|InfoImages|Allsky)Queue/);
    expect(JSON.stringify(granting(statements, "dynamodb:UpdateItem").flatMap((statement) => statement.resources))).toMatch(/Quarantine/);
    expect(JSON.stringify(granting(statements, "dynamodb:UpdateItem").flatMap((statement) => statement.resources))).not.toMatch(/ObjectDeliveries/);
    const environment = JSON.stringify(lambdaFunction(api, "ApiOperations")["Environment"]);
    for (const name of ["DATA_INGEST_QUEUE_URL", "INFO_IMAGES_INGEST_QUEUE_URL", "ALLSKY_INGEST_QUEUE_URL"]) expect(environment).toContain(`"${name}"`);
    // POST /reconcile stops beginning work well within the function's 10 s.
    expect(environment).toContain('"RECONCILE_API_BUDGET_SECONDS":"6"');
  });

  it("download reads the uploaded files, writes only its conversions under downloads/, and reads the database secret", () => {
    const statements = functionStatements(api, "ApiDownload");
    expect(allActions(statements)).toEqual(
      expect.arrayContaining(["s3:GetObject", "s3:PutObject", "s3:ListBucket", "secretsmanager:GetSecretValue"]),
    );
    expect(allActions(statements).filter((action) => action.startsWith("s3:"))).toEqual(["s3:GetObject", "s3:ListBucket", "s3:PutObject"]);
    expect(JSON.stringify(granting(statements, "s3:PutObject")[0]?.resources)).toMatch(/downloads\/\*/);
    expect(JSON.stringify(granting(statements, "s3:PutObject")[0]?.resources)).not.toMatch(/data\//);
    expect(granting(statements, "s3:ListBucket")[0]?.resources).toEqual([expect.stringMatching(/ArchiveBucket\w+Arn\w*>$/)]);
  });

  it.each(ids)("%s has no wildcard action and no wildcard resource", (id) => {
    for (const statement of functionStatements(api, id)) {
      expect(statement.actions.some((action) => action.includes("*")), id).toBe(false);
      expect(statement.resources, id).not.toContain("*");
    }
  });

  it.each(ids)("alarms on errors and throttles of %s", (id) => {
    const [functionId] = resourceById(api, "AWS::Lambda::Function", id);
    for (const metric of ["Errors", "Throttles"]) {
      api.hasResourceProperties("AWS::CloudWatch::Alarm", {
        MetricName: metric,
        Dimensions: [{ Name: "FunctionName", Value: { Ref: functionId } }],
        AlarmActions: [Match.objectLike({ "Fn::ImportValue": Match.stringLikeRegexp("AlarmTopic") })],
      });
    }
  });
});
