import type { IncomingMessage, ServerResponse } from "node:http";
import express, { type Express, Router } from "express";
import { TesseraError } from "../errors.js";
import type { HttpDeps } from "./deps.js";
import { errorHandler } from "./errors.js";
import { jsonEndpoints } from "./json-endpoints.js";
import { mountBundle } from "./routes/bundle.js";
import { mountCrl } from "./routes/crl.js";
import { mountDiscovery } from "./routes/discovery.js";
import { mountHealth } from "./routes/health.js";
import { svidJwtEndpoint } from "./routes/svid-jwt.js";
import { svidX509Endpoint } from "./routes/svid-x509.js";

type Mount = (router: Router, deps: HttpDeps) => void;

/** The issuance endpoints: JSON in, JSON out, served ahead of express (see json-endpoints.ts). */
const API_ENDPOINTS = [svidX509Endpoint, svidJwtEndpoint];

/** Every other route of the TLS API, in one list. */
const API_ROUTES: Mount[] = [mountHealth, mountBundle, mountDiscovery, mountCrl];

/** The plain-HTTP listener serves only self-verifying public documents. */
const PUBLIC_ROUTES: Mount[] = [mountCrl];

interface RouteLayer {
  route?: { methods: Record<string, boolean> };
  match(path: string): boolean;
}

/** The methods `router` answers on `path` (GET implies HEAD), read from its route table. */
function routedMethods(router: Router, path: string): string[] {
  const methods = new Set<string>();
  for (const layer of (router as unknown as { stack: RouteLayer[] }).stack) {
    if (!layer.route || !layer.match(path)) continue;
    for (const m of Object.keys(layer.route.methods)) methods.add(m.toUpperCase());
  }
  if (methods.has("GET")) methods.add("HEAD");
  return [...methods];
}

/** A path that exists answers other methods with 405 and an Allow header; any other path is a 404. */
function noRoute(router: Router, extra: ReadonlyMap<string, string>) {
  return (req: express.Request, _res: express.Response, next: express.NextFunction) => {
    const allowed = [...routedMethods(router, req.path), ...(extra.has(req.path) ? [extra.get(req.path) as string] : [])];
    if (allowed.length === 0) return next(new TesseraError("not_found", `no route for ${req.method} ${req.path}`));
    const allow = allowed.join(", ");
    next(
      new TesseraError("method_not_allowed", `${req.method} is not allowed on ${req.path}; use ${allow}`, { headers: { allow } }),
    );
  };
}

function build(deps: HttpDeps, mounts: Mount[], postPaths: readonly string[] = []): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
  app.use(express.json({ limit: deps.maxBodyBytes, strict: true, type: "application/json" }));
  const router = Router();
  for (const mount of mounts) mount(router, deps);
  app.use(router);
  app.use(noRoute(router, new Map(postPaths.map((p) => [p, "POST"]))));
  app.use(errorHandler(deps.logger, deps.metrics));
  return app;
}

export function createApiApp(deps: HttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const endpoints = API_ENDPOINTS.map((e) => e(deps));
  const fast = jsonEndpoints(endpoints, deps);
  const app = build(
    deps,
    API_ROUTES,
    endpoints.map((e) => e.path),
  );
  return (req, res) => {
    if (!fast(req, res)) app(req, res);
  };
}

export function createPublicApp(deps: HttpDeps): Express {
  return build(deps, PUBLIC_ROUTES);
}
