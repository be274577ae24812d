import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { loadConfig, type ArchiveConfig } from "./config";

/** The SDK clients, one of each per process, built from the configuration on first use. */
export interface AwsClients {
  s3: S3Client;
  /** Presigned URLs are signed for the address clients use, which locally may differ from the functions' one. */
  s3Public: S3Client;
  dynamo: DynamoDBDocumentClient;
  sqs: SQSClient;
}

export function createAwsClients(config: ArchiveConfig): AwsClients {
  const region = config.AWS_REGION;
  const s3 = new S3Client({
    region,
    ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT, forcePathStyle: true } : {}),
  });
  const publicEndpoint = config.S3_PUBLIC_ENDPOINT ?? config.S3_ENDPOINT;
  const s3Public =
    publicEndpoint === config.S3_ENDPOINT
      ? s3
      : new S3Client({ region, ...(publicEndpoint ? { endpoint: publicEndpoint, forcePathStyle: true } : {}) });
  const dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient({ region, ...(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {}) }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  const sqs = new SQSClient({ region, ...(config.SQS_ENDPOINT ? { endpoint: config.SQS_ENDPOINT } : {}) });
  return { s3, s3Public, dynamo, sqs };
}

let cached: AwsClients | undefined;

export function awsClients(): AwsClients {
  cached ??= createAwsClients(loadConfig());
  return cached;
}

export function resetAwsClients(): void {
  cached = undefined;
}
