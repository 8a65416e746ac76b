import express, { type Express, Router } from "express";
import { TesseraError } from "../errors.js";
import type { HttpDeps } from "./deps.js";
import { errorHandler } from "./errors.js";
import { mountBundle } from "./routes/bundle.js";
import { mountCrl } from "./routes/crl.js";
import { mountDiscovery } from "./routes/discovery.js";
import { mountHealth } from "./routes/health.js";
import { mountSvidJwt } from "./routes/svid-jwt.js";
import { mountSvidX509 } from "./routes/svid-x509.js";

type Mount = (router: Router, deps: HttpDeps) => void;

/** Every route of the TLS API, in one list. */
const API_ROUTES: Mount[] = [mountHealth, mountBundle, mountDiscovery, mountCrl, mountSvidX509, mountSvidJwt];

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

export function createApiApp(deps: HttpDeps): Express {
  return build(deps, API_ROUTES);
}

export function createPublicApp(deps: HttpDeps): Express {
  return build(deps, PUBLIC_ROUTES);
}
