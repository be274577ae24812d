/**
 * The HTTP API's one route table: every route, the function that serves it and whether the site authorizer guards it.
 * The stacks mount exactly these on API Gateway, the local archive's server routes by them, and each API function
 * binds the handlers of its own routes. Data only: reading it bundles no route's code.
 */
export type ApiFunctionName = "apiUpload" | "apiReads" | "apiDownload";

export interface ApiRoute {
  method: "GET" | "POST";
  /** API Gateway route syntax: literal segments and `{name}` parameters. */
  path: string;
  functionName: ApiFunctionName;
  /** The site-token authorizer runs first and names the caller. */
  authorized?: true;
}

export const API_ROUTES = [
  { method: "POST", path: "/upload", functionName: "apiUpload", authorized: true },
  // Downloads convert files (FITS from .fz, TIFF) and stream zips: their own function, sized for a full frame.
  { method: "POST", path: "/download", functionName: "apiDownload" },
  { method: "POST", path: "/downloadzip", functionName: "apiDownload" },
  { method: "GET", path: "/recentuploads", functionName: "apiReads" },
  { method: "GET", path: "/infoimage/{site}/{channel}", functionName: "apiReads" },
  { method: "GET", path: "/{site}/latest_images/{n}", functionName: "apiReads" },
  { method: "GET", path: "/filtered_images", functionName: "apiReads" },
  { method: "GET", path: "/latest_image_all_sites", functionName: "apiReads" },
  { method: "GET", path: "/image/{base_filename}", functionName: "apiReads" },
  { method: "GET", path: "/fitsheader/{base_filename}", functionName: "apiReads" },
] as const satisfies readonly ApiRoute[];

/** "METHOD /path", as API Gateway names a route. */
export type RouteKey = `${(typeof API_ROUTES)[number]["method"]} ${(typeof API_ROUTES)[number]["path"]}`;
export const routeKey = (route: ApiRoute): RouteKey => `${route.method} ${route.path}` as RouteKey;

/**
 * Who may call the API from a browser: the frontend reads from another origin and nothing depends on cookies. The
 * stack configures API Gateway's CORS from this (with the stage's origins) and the local server answers the same.
 */
export const CORS_POLICY = {
  /** Preflight (OPTIONS) is answered for these, not listed with them. */
  allowMethods: ["GET", "POST"],
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
