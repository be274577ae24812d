/**
 * AWS list prices, us-east-1, on-demand, without free tiers or savings plans: as published on the services' pricing
 * pages in 2025 (DynamoDB's on-demand prices after the cut of 2024-11-01; Lambda bills the INIT phase since
 * 2025-08-01). List prices to re-check before relying on a figure: https://aws.amazon.com/pricing/.
 */
export const PRICES = {
  asOf: "AWS list prices, us-east-1, as published in 2025; re-check them",
  lambda: {
    /** per GB-second of billed duration */
    arm64GbS: 0.0000133334,
    x86_64GbS: 0.0000166667,
    request: 0.2 / 1e6,
  },
  /** Standard queue, per request (each 64 KB of payload is a request); the first million a month is free. */
  sqsRequest: 0.4 / 1e6,
  dynamodb: {
    /** On-demand: an item write up to 1 KB is one write request unit; a failed conditional write still takes one. */
    writeUnit: 0.625 / 1e6,
    readUnit: 0.125 / 1e6,
  },
  s3: {
    /** S3 Standard: PUT, COPY, POST, LIST */
    putClass: 0.005 / 1000,
    /** GET, SELECT and every other request, HEAD included */
    getClass: 0.0004 / 1000,
  },
  /** S3 object events on the default bus are "AWS opt-in data events", billed like custom events; rule → SQS is free. */
  eventBridgeEvent: 1 / 1e6,
  /** db.t3.micro, PostgreSQL, single-AZ, per instance-hour */
  rdsInstanceHour: 0.018,
} as const;
