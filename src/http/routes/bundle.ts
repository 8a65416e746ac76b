import type { Router } from "express";
import type { HttpDeps } from "../deps.js";

export function mountBundle(router: Router, deps: HttpDeps): void {
  router.get("/v1/bundle", (_req, res) => {
    res.setHeader("Cache-Control", "public, max-age=60");
    res.type("application/x-pem-file").send(deps.ca.bundlePem());
  });
}
