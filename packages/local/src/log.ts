import { Logger } from "@aws-lambda-powertools/logger";

/** The local archive's own services (emulators, dispatcher, server) log here; the handlers log through their context. */
export const logger = new Logger({ serviceName: "local-archive" });
