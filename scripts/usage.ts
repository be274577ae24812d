import { ArchiveError } from "@archive/core/platform/errors";
import type { Logger } from "@archive/core/platform/logger";

/** A bad command line or bad input, the operator's to fix: said plainly, exit code 2. */
export function isUsageError(error: unknown): boolean {
  const badArguments = error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS");
  return badArguments || (error instanceof ArchiveError && error.status < 500);
}

/** The exit code of a script that failed: 2 for a usage error (printed with the usage), else 1 (logged in full). */
export function failureExitCode(error: unknown, usage: string, log: Logger): number {
  if (isUsageError(error) && error instanceof Error) {
    process.stderr.write(error.message === usage ? `${usage}\n` : `${error.message}\n${usage}\n`);
    return 2;
  }
  log.error("the command failed", { error: error instanceof Error ? error : String(error) });
  return 1;
}
