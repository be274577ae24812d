import { createServer } from "node:net";

/**
 * The local archive's ports: the API on PORT (3000 by default) and its services on the next ones, each movable by its
 * own variable. All are checked before anything starts, so a taken port is reported by name, not as a stack trace.
 */
export interface LocalPorts {
  api: number;
  s3: number;
  dynamodb: number;
  sqs: number;
  postgres: number;
}

export const PORT_VARIABLES: Readonly<Record<keyof LocalPorts, string>> = {
  api: "PORT",
  s3: "ARCHIVE_S3_PORT",
  dynamodb: "ARCHIVE_DYNAMODB_PORT",
  sqs: "ARCHIVE_SQS_PORT",
  postgres: "ARCHIVE_POSTGRES_PORT",
};

const PORT_ROLES: Readonly<Record<keyof LocalPorts, string>> = {
  api: "the API and dashboard",
  s3: "S3 (s3rver)",
  dynamodb: "DynamoDB (dynalite)",
  sqs: "the datastream queue (SQS stand-in)",
  postgres: "embedded Postgres",
};

export class PortInUseError extends Error {
  override readonly name = "PortInUseError";
  constructor(
    readonly port: number,
    readonly role: keyof LocalPorts,
  ) {
    super(
      `port ${port} (${PORT_ROLES[role]}) is already in use: stop what holds it, or set ${PORT_VARIABLES[role]}` +
        (role === "api" ? "" : " (or PORT, which moves them all)") +
        " to another port",
    );
  }
}

/** PORT, then PORT+1… for the services, unless a service's own variable or option says otherwise. */
export function localPorts(api: number, overrides: Partial<LocalPorts> = {}): LocalPorts {
  return {
    api,
    s3: overrides.s3 ?? api + 1,
    dynamodb: overrides.dynamodb ?? api + 2,
    sqs: overrides.sqs ?? api + 3,
    postgres: overrides.postgres ?? api + 4,
  };
}

export function portFromEnv(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`${name} must be a port number (1-65535), got ${JSON.stringify(value)}`);
  return port;
}

function probe(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE" || error.code === "EACCES") resolve(false);
      else reject(error);
    });
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Throws PortInUseError for the first port of `roles` that cannot be bound on 127.0.0.1. */
export async function assertPortsFree(ports: LocalPorts, roles: (keyof LocalPorts)[]): Promise<void> {
  const seen = new Map<number, keyof LocalPorts>();
  for (const role of roles) {
    const other = seen.get(ports[role]);
    if (other !== undefined) throw new RangeError(`${PORT_VARIABLES[role]} and ${PORT_VARIABLES[other]} both name port ${ports[role]}`);
    seen.set(ports[role], role);
    if (!(await probe(ports[role]))) throw new PortInUseError(ports[role], role);
  }
}

/** A base port whose next `span` ports are all free (tests start archives side by side). */
export async function findFreePortRange(span = 5, from = 20000 + Math.floor(Math.random() * 20000)): Promise<number> {
  for (let base = from; base < 65000; base += span) {
    let free = true;
    for (let offset = 0; offset < span && free; offset += 1) free = await probe(base + offset);
    if (free) return base;
  }
  throw new Error("no free range of ports found");
}
