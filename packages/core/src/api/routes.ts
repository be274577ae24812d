/**
 * The HTTP API's one route table: every route, the function that serves it and which authorizer guards it.
 * The stacks mount exactly these on API Gateway, the local archive's server routes by them, and each API function
 * binds the handlers of its own routes. Data only: reading it bundles no route's code.
 */
export type ApiFunctionName = "apiUpload" | "apiReads" | "apiDownload" | "apiOperations";

export interface ApiRoute {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** API Gateway route syntax: literal segments and `{name}` parameters. */
  path: string;
  functionName: ApiFunctionName;
  /** The site-token authorizer runs first and names the caller. */
  authorized?: true;
  /**
   * Only an operator's token may call it: the operator authorizer runs first (on every request, uncached) and core
   * refuses any other caller, 401 or 403 (`authorizeOperator`). Locally, where no authorizer runs, it is open.
   */
  operatorOnly?: true;
  /** API Gateway's throttle for this route: requests per second, steady and in a burst; beyond, callers get 429. */
  throttle: RouteThrottle;
}

export interface RouteThrottle {
  rate: number;
  burst: number;
}

/**
 * Per-route limits, sized from the fleet (docs/scale.md): 100 sites upload ~4 files per exposure, a few per second
 * together, and catch up after an outage in bursts; a frontend page makes a handful of reads. Downloads convert full
 * frames on a 3 GB function for up to 29 s, so a few at a time is what protects the account's Lambda concurrency.
 */
const UPLOADS: RouteThrottle = { rate: 200, burst: 400 };
const READS: RouteThrottle = { rate: 100, burst: 200 };
const CONVERSIONS: RouteThrottle = { rate: 10, burst: 20 };
const ZIPS: RouteThrottle = { rate: 2, burst: 5 };
/** Operators' questions (a person's CLI, a dashboard panel): a few at a time, each a database query. */
const OPERATIONS: RouteThrottle = { rate: 10, burst: 20 };

export const API_ROUTES = [
  { method: "POST", path: "/upload", functionName: "apiUpload", authorized: true, throttle: UPLOADS },
  // Downloads convert files (FITS from .fz, TIFF) and stream zips: their own function, sized for a full frame.
  { method: "POST", path: "/download", functionName: "apiDownload", throttle: CONVERSIONS },
  { method: "POST", path: "/downloadzip", functionName: "apiDownload", throttle: ZIPS },
  { method: "GET", path: "/recentuploads", functionName: "apiReads", throttle: READS },
  { method: "GET", path: "/infoimage/{site}/{channel}", functionName: "apiReads", throttle: READS },
  { method: "GET", path: "/{site}/latest_images/{n}", functionName: "apiReads", throttle: READS },
  { method: "GET", path: "/filtered_images", functionName: "apiReads", throttle: READS },
  { method: "GET", path: "/latest_image_all_sites", functionName: "apiReads", throttle: READS },
  { method: "GET", path: "/image/{base_filename}", functionName: "apiReads", throttle: READS },
  { method: "GET", path: "/fitsheader/{base_filename}", functionName: "apiReads", throttle: READS },
  // Operations: what the people running the network ask (docs/modules.md, "Operations"); operator tokens only.
  { method: "GET", path: "/gaps/{site}", functionName: "apiOperations", operatorOnly: true, throttle: OPERATIONS },
  { method: "GET", path: "/expiry", functionName: "apiOperations", operatorOnly: true, throttle: OPERATIONS },
  { method: "PUT", path: "/pin/{base_filename}", functionName: "apiOperations", operatorOnly: true, throttle: OPERATIONS },
  { method: "DELETE", path: "/pin/{base_filename}", functionName: "apiOperations", operatorOnly: true, throttle: OPERATIONS },
  { method: "GET", path: "/status/{base_filename}", functionName: "apiOperations", operatorOnly: true, throttle: OPERATIONS },
  { method: "GET", path: "/stuck", functionName: "apiOperations", operatorOnly: true, throttle: OPERATIONS },
  { method: "GET", path: "/quarantine", functionName: "apiOperations", operatorOnly: true, throttle: OPERATIONS },
  { method: "POST", path: "/reingest", functionName: "apiOperations", operatorOnly: true, throttle: OPERATIONS },
  { method: "POST", path: "/reconcile", functionName: "apiOperations", operatorOnly: true, throttle: OPERATIONS },
] as const satisfies readonly ApiRoute[];

/** "METHOD /path", as API Gateway names a route. */
export type RouteKey = `${(typeof API_ROUTES)[number]["method"]} ${(typeof API_ROUTES)[number]["path"]}`;
export const routeKey = (route: ApiRoute): RouteKey => `${route.method} ${route.path}` as RouteKey;

/** The stage's throttle for any route not in the table (API Gateway answers those 404 itself). */
export const DEFAULT_ROUTE_THROTTLE: RouteThrottle = { rate: 50, burst: 100 };

/**
 * Who may call the API from a browser: the frontend reads from another origin and nothing depends on cookies. The
 * stack configures API Gateway's CORS from this (with the stage's origins) and the local server answers the same.
 */
export const CORS_POLICY = {
  /** Preflight (OPTIONS) is answered for these, not listed with them. */
  allowMethods: ["GET", "POST", "PUT", "DELETE"],
  allowHeaders: ["Authorization", "Content-Type"],
  maxAgeSeconds: 86_400,
} as const;

type RouteParams = Record<string, string>;

interface CompiledRoute {
  route: ApiRoute;
  pattern: RegExp;
  names: string[];
}

function compile(route: ApiRoute): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split("/")
    .map((segment) => {
      const name = /^\{(\w+)\}$/.exec(segment)?.[1];
      if (name === undefined) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      names.push(name);
      return "([^/]+)";
    })
    .join("/");
  return { route, pattern: new RegExp(`^${source}$`), names };
}

const compiledRoutes: CompiledRoute[] = API_ROUTES.map(compile);

export type RouteMatch = { route: ApiRoute; rawParams: RouteParams } | "method_not_allowed" | undefined;

/**
 * The route for a method and path with its raw (still encoded) parameters; literal routes win over parameterised
 * ones. A trailing `/` is accepted on every path, as the frontend sends some (`/fitsheader/{bf}/`).
 */
export function matchRoute(method: string, path: string): RouteMatch {
  const trimmed = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  let pathMatched = false;
  for (const { route, pattern, names } of compiledRoutes) {
    const match = pattern.exec(trimmed);
    if (!match) continue;
    pathMatched = true;
    if (route.method !== method.toUpperCase()) continue;
    const rawParams: RouteParams = {};
    names.forEach((name, index) => {
      rawParams[name] = match[index + 1] ?? "";
    });
    return { route, rawParams };
  }
  return pathMatched ? "method_not_allowed" : undefined;
}
