import type { Request, Response, Router } from "express";
import type { ServedCrl } from "../../crl/crl-service.js";
import { TesseraError } from "../../errors.js";
import type { HttpDeps } from "../deps.js";

function serve(req: Request, res: Response, crl: ServedCrl | undefined, pem: boolean): void {
  if (!crl) throw new TesseraError("unavailable", "the CRL is not built yet");
  const maxAge = Math.max(0, Math.min(60, Math.floor((crl.nextUpdate - Date.now()) / 1000)));
  res.setHeader("Cache-Control", `public, max-age=${maxAge}, must-revalidate`);
  res.setHeader("ETag", crl.etag);
  res.setHeader("Last-Modified", new Date(crl.thisUpdate).toUTCString());
  const match = req.headers["if-none-match"];
  if (match?.split(",").some((t) => t.trim() === crl.etag || t.trim() === "*")) {
    res.status(304).end();
    return;
  }
  if (pem) res.type("application/x-pem-file").send(crl.pem);
  else res.type("application/pkix-crl").send(crl.der);
}

/** Public, self-verifying CRL documents; also mounted on the plain-HTTP listener. */
export function mountCrl(router: Router, deps: HttpDeps): void {
  router.get("/v1/crl", (req, res) => serve(req, res, deps.crl.get(), false));
  router.get("/v1/crl.pem", (req, res) => serve(req, res, deps.crl.get(), true));
  // every published issuing CA's CRL in one PEM file, for `openssl verify -CRLfile`
  router.get("/v1/crls.pem", (_req, res) => {
    res.setHeader("Cache-Control", "public, max-age=30, must-revalidate");
    res.type("application/x-pem-file").send(
      deps.crl
        .all()
        .map((c) => c.pem)
        .join(""),
    );
  });
  router.get("/v1/crl/:issuer", (req, res) => {
    const id = String(req.params.issuer);
    const asPem = id.endsWith(".pem");
    const crl = deps.crl.get(asPem ? id.slice(0, -4) : id);
    if (!crl) throw new TesseraError("not_found", "no CRL for that issuer");
    serve(req, res, crl, asPem);
  });
}
