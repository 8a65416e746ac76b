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

function build(deps: HttpDeps, mounts: Mount[]): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
  app.use(express.json({ limit: deps.maxBodyBytes, strict: true, type: "application/json" }));
  const router = Router();
  for (const mount of mounts) mount(router, deps);
  app.use(router);
  app.use((req, _res, next) => next(new TesseraError("not_found", `no route for ${req.method} ${req.path}`)));
  app.use(errorHandler(deps.logger, deps.metrics));
  return app;
}

export function createApiApp(deps: HttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const fast = jsonEndpoints(
    API_ENDPOINTS.map((e) => e(deps)),
    deps,
  );
  const app = build(deps, API_ROUTES);
  return (req, res) => {
    if (!fast(req, res)) app(req, res);
  };
}

export function createPublicApp(deps: HttpDeps): Express {
  return build(deps, PUBLIC_ROUTES);
}
