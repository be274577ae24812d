import type { ISecurityGroup, IVpc, SubnetSelection } from "aws-cdk-lib/aws-ec2";
import type { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { ILayerVersion } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import { RemovalPolicy } from "aws-cdk-lib/core";
import { Function, type Stack } from "sst/constructs";
import type { ArchiveEnvironment } from "../packages/core/src/platform/config";

/** How a function reaches Postgres: its secret, and the VPC when the database is private to one. */
export interface DatabaseAccess {
  secret: ISecret;
  network?: { vpc: IVpc; subnets: SubnetSelection; securityGroup: ISecurityGroup };
}

export interface ArchiveFunctionProps {
  /** File name under packages/functions/src, without extension. */
  handler: string;
  memorySize: number;
  timeoutSeconds: number;
  environment: ArchiveEnvironment;
  /** Exactly what the function does, as IAM statements: nothing is granted by default. */
  statements: PolicyStatement[];
  /** Every function is told where the database is: the configuration requires it of every process. */
  database: DatabaseAccess;
  /** Functions that open a Postgres connection run in the database's VPC and may read its secret. */
  connects: boolean;
  sharp?: ILayerVersion;
  retainLogs: boolean;
  /** Files copied into the bundle beside the code (paths from the repository root). */
  copyFiles?: { from: string; to: string }[];
}

export const FUNCTIONS_DIR = "packages/functions/src";

/** One Lambda function of the archive: Node 22 on arm64, ESM, its own log group, only the statements it is given. */
export function archiveFunction(stack: Stack, id: string, props: ArchiveFunctionProps): Function {
  const logGroup = new LogGroup(stack, `${id}Logs`, {
    retention: RetentionDays.ONE_MONTH,
    removalPolicy: props.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
  const network = props.connects ? props.database.network : undefined;
  const fn = new Function(stack, id, {
    handler: `${FUNCTIONS_DIR}/${props.handler}.handler`,
    runtime: "nodejs22.x",
    architecture: "arm_64",
    memorySize: props.memorySize,
    timeout: props.timeoutSeconds,
    // X-Ray would need a "*" resource grant and a VPC endpoint; logs and metrics carry the traces we use.
    tracing: "disabled",
    logGroup,
    environment: {
      ...props.environment,
      DATABASE_SECRET_ARN: props.database.secret.secretArn,
      // One connection per instance: the event sources' concurrency is then the connection count.
      DATABASE_POOL_SIZE: "1",
    },
    nodejs: {
      format: "esm",
      // sharp comes from the layer (linux-arm64 binaries); pg-native is an optional require pg never makes here.
      esbuild: { external: ["sharp", "pg-native"] },
      sourcemap: false,
      // A third of the bytes for V8 to parse at every cold start.
      minify: true,
      // What is only imported dynamically (the SDK's credential chains other than the environment's, its STS/SSO
      // clients, the database secret's client) goes to chunks loaded on first use: ~0.12 MB less to parse at a cold start.
      splitting: true,
    },
    layers: props.sharp ? [props.sharp] : [],
    ...(props.copyFiles ? { copyFiles: props.copyFiles } : {}),
    ...(network ? { vpc: network.vpc, vpcSubnets: network.subnets, securityGroups: [network.securityGroup] } : {}),
  });
  fn.attachPermissions(props.statements);
  // GetSecretValue and DescribeSecret on this secret only (with the name-suffix wildcard when imported by name).
  if (props.connects) props.database.secret.grantRead(fn);
  return fn;
}
