import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetBucketNotificationConfigurationCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { DescribeSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { GetQueueUrlCommand, SQSClient } from "@aws-sdk/client-sqs";

/**
 * The read-only AWS calls preflight makes, one method per API action. Answers are what the SDK returns, handed over
 * unparsed: preflight validates them itself, so recorded answers (JSON) and emulators can stand in for the account.
 */
export interface QueueRef {
  name: string;
  /** The owner's account, when the queue belongs to another one. */
  accountId?: string;
}

export interface AccountReader {
  headBucket(bucket: string): Promise<unknown>;
  getBucketNotificationConfiguration(bucket: string): Promise<unknown>;
  describeTable(table: string): Promise<unknown>;
  describeTimeToLive(table: string): Promise<unknown>;
  getQueueUrl(queue: QueueRef): Promise<unknown>;
  describeSecret(secretId: string): Promise<unknown>;
}

export interface AccountClients {
  s3: S3Client;
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  secrets: SecretsManagerClient;
}

export interface AccountEndpoints {
  region: string;
  /** Emulators on this machine (tests); the real services otherwise. */
  s3?: string;
  dynamodb?: string;
  sqs?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export function createAccountClients(endpoints: AccountEndpoints): AccountClients {
  const common = { region: endpoints.region, ...(endpoints.credentials ? { credentials: endpoints.credentials } : {}) };
  return {
    s3: new S3Client({ ...common, ...(endpoints.s3 ? { endpoint: endpoints.s3, forcePathStyle: true } : {}) }),
    dynamodb: new DynamoDBClient({ ...common, ...(endpoints.dynamodb ? { endpoint: endpoints.dynamodb } : {}) }),
    sqs: new SQSClient({ ...common, ...(endpoints.sqs ? { endpoint: endpoints.sqs } : {}) }),
    secrets: new SecretsManagerClient(common),
  };
}

export function closeAccountClients(clients: AccountClients): void {
  for (const client of Object.values(clients)) client.destroy();
}

/** The account as the SDK answers for it. */
export function accountReader(clients: AccountClients): AccountReader {
  return {
    headBucket: (bucket) => clients.s3.send(new HeadBucketCommand({ Bucket: bucket })),
    getBucketNotificationConfiguration: (bucket) =>
      clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket })),
    describeTable: (table) => clients.dynamodb.send(new DescribeTableCommand({ TableName: table })),
    describeTimeToLive: (table) => clients.dynamodb.send(new DescribeTimeToLiveCommand({ TableName: table })),
    getQueueUrl: (queue) =>
      clients.sqs.send(
        new GetQueueUrlCommand({ QueueName: queue.name, ...(queue.accountId ? { QueueOwnerAWSAccountId: queue.accountId } : {}) }),
      ),
    describeSecret: (secretId) => clients.secrets.send(new DescribeSecretCommand({ SecretId: secretId })),
  };
}
