import type { TLSSocket } from "node:tls";
import type { Router } from "express";
import { issueX509Svid } from "../../flows/issue-x509.js";
import type { HttpDeps } from "../deps.js";
import { limited } from "../rate-limit.js";
import { bodyObject, requireJson } from "../request-body.js";

export function mountSvidX509(router: Router, deps: HttpDeps): void {
  router.post("/v1/svid/x509", ...limited(deps), requireJson, async (req, res) => {
    const body = bodyObject(req);
    const peer = body.attestation === undefined ? await deps.peers.authenticate(req.socket as TLSSocket) : undefined;
    const svid = await issueX509Svid(deps.issueX509, {
      csr: body.csr,
      attestation: body.attestation,
      spiffeId: body.spiffe_id,
      peer,
    });
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
