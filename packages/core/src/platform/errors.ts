/**
 * Domain errors say what went wrong with which input, and whether retrying can help.
 * `retryable: false` means bad input: acknowledge and record it. `retryable: true` means a transient fault:
 * fail the record so it is delivered again.
 */
export class ArchiveError extends Error {
  override readonly name: string = "ArchiveError";
  constructor(
    message: string,
    readonly code: string,
    readonly retryable: boolean,
    /** HTTP status when the error reaches an API caller; 500 is never shown with its message. */
    readonly status: number = retryable ? 503 : 400,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Input that can never succeed: a bad file name, a malformed request. */
export class InvalidInputError extends ArchiveError {
  override readonly name = "InvalidInputError";
  constructor(
    message: string,
    /** The part of the input that is wrong (a field name, a file-name part). */
    readonly field: string,
    code = "invalid_input",
  ) {
    super(message, code, false, 400);
  }
}

export class NotFoundError extends ArchiveError {
  override readonly name = "NotFoundError";
  constructor(message: string) {
    super(message, "not_found", false, 404);
  }
}

export class UnauthorizedError extends ArchiveError {
  override readonly name = "UnauthorizedError";
  constructor(message = "a valid site token is required") {
    super(message, "unauthorized", false, 401);
  }
}

export class ForbiddenError extends ArchiveError {
  override readonly name = "ForbiddenError";
  constructor(message: string) {
    super(message, "forbidden", false, 403);
  }
}

/** A dependency (database, S3, DynamoDB, SQS) failed in a way a later attempt may not. */
export class TransientError extends ArchiveError {
  override readonly name = "TransientError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "transient", true, 503, options);
  }
}

/** Bad input is acknowledged; anything we cannot classify is treated as transient so it is retried, not dropped. */
export function isRetryable(error: unknown): boolean {
  return error instanceof ArchiveError ? error.retryable : true;
}

/** Network failures and PostgreSQL's "cannot serve now" states: a dependency is down, not the request wrong. */
const UNAVAILABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EPIPE", "57P01", "57P02", "57P03", "53300"]);

/**
 * Whether an error means a dependency (Postgres above all) is unreachable: a retry later may pass. Connection
 * exceptions are SQLSTATE class 08; pg reports a dropped or timed-out connection by message only.
 */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof TransientError) return true;
  if (!(error instanceof Error)) return false;
  const code = "code" in error && typeof error.code === "string" ? error.code : "";
  if (UNAVAILABLE_CODES.has(code) || code.startsWith("08")) return true;
  if (error instanceof AggregateError) return error.errors.some(isUnavailable);
  return /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED/i.test(error.message);
}
