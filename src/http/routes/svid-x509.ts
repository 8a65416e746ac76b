import type { Router } from "express";
import { issueX509Svid } from "../../flows/issue-x509.js";
import type { HttpDeps } from "../deps.js";
import { bodyObject, requireJson } from "../request-body.js";

export function mountSvidX509(router: Router, deps: HttpDeps): void {
  router.post("/v1/svid/x509", requireJson, async (req, res) => {
    const body = bodyObject(req);
    const svid = await issueX509Svid(deps.issueX509, { csr: body.csr, attestation: body.attestation });
    deps.metrics.count("tessera_svid_issued_total", { type: "x509" });
    res.status(201).json({
      spiffe_id: svid.spiffeId,
      serial: svid.serial,
      certificate: svid.certificatePem,
      chain: svid.chainPem,
      bundle: svid.bundlePem,
      expires_at: svid.expiresAt.toISOString(),
    });
  });
}
