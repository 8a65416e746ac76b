import type { Router } from "express";
import type { HttpDeps } from "../deps.js";

export function mountHealth(router: Router, deps: HttpDeps): void {
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  // Ready when the database answers, an issuing key is active and a CRL is servable.
  router.get("/readyz", async (_req, res) => {
    const problems: string[] = [];
    try {
      await deps.store.getSettings();
    } catch {
      problems.push("database");
    }
    try {
      deps.ca.activeIntermediate();
    } catch {
      problems.push("issuing_key");
    }
    if (!deps.crl.get()) problems.push("crl");
    res.status(problems.length ? 503 : 200).json({ status: problems.length ? "not_ready" : "ready", problems });
  });

  router.get("/metrics", (_req, res) => {
    res.type("text/plain; version=0.0.4").send(deps.metrics.render());
  });
}
