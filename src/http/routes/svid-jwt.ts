import type { TLSSocket } from "node:tls";
import type { Router } from "express";
import { issueJwtSvid } from "../../flows/issue-jwt.js";
import type { HttpDeps } from "../deps.js";
import { limited } from "../rate-limit.js";
import { bodyObject, requireJson } from "../request-body.js";

export function mountSvidJwt(router: Router, deps: HttpDeps): void {
  router.post("/v1/svid/jwt", ...limited(deps), requireJson, async (req, res) => {
    const body = bodyObject(req);
    const peer = body.attestation === undefined ? await deps.peers.authenticate(req.socket as TLSSocket) : undefined;
    const svid = await issueJwtSvid(deps.issueJwt, {
      audience: body.audience,
      attestation: body.attestation,
      spiffeId: body.spiffe_id,
      peer,
    });
    deps.metrics.count("tessera_svid_issued_total", { type: "jwt" });
    res.status(201).json({ spiffe_id: svid.spiffeId, token: svid.token, expires_at: svid.expiresAt.toISOString() });
  });
}
